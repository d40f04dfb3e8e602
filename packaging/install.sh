#!/bin/sh
# Installs BindScope from this unpacked tarball for one user (or any prefix), or removes it again:
#   ./install.sh                          install into ~/.local (the app in ~/.local/lib/bindscope)
#   ./install.sh --prefix DIR             install into DIR (e.g. /usr/local, as root)
#   ./install.sh --uninstall [--prefix DIR]
# Without installing, bin/bindscope-app in this folder runs the app and bin/bindscope the command line.
# What is installed is this folder's lib/bindscope, bin/ and share/; the list is kept in
# PREFIX/lib/bindscope/installed-files, so --uninstall (or PREFIX/lib/bindscope/uninstall.sh) removes exactly
# that and the folders it made.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix="${HOME}/.local"
action=install_here
while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h | --help) sed -n '2,9p' "$0" | cut -c3-; exit 0 ;;
    *) echo "install.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
app="$prefix/lib/bindscope"
manifest="$app/installed-files"

refresh() { # the desktop's caches of menu entries and icons, where those folders exist
    if [ -d "$prefix/share/applications" ] && command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$prefix/share/applications" 2>/dev/null || true
    fi
    if [ -d "$prefix/share/icons/hicolor" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" 2>/dev/null || true
    fi
}

uninstall() {
    [ -f "$manifest" ] || { echo "install.sh: BindScope is not installed in $prefix (no $manifest)" >&2; exit 1; }
    while IFS= read -r file; do rm -f "$prefix/$file"; done <"$manifest"
    # The desktop's menu and icon caches go too when they index nothing but what was just removed.
    for cache in share/applications/mimeinfo.cache share/icons/hicolor/icon-theme.cache; do
        folder="$prefix/$(dirname "$cache")"
        if [ -f "$prefix/$cache" ] && [ -z "$(find "$folder" -type f ! -name "$(basename "$cache")" | head -n 1)" ]; then
            rm -f "$prefix/$cache"
        fi
    done
    while IFS= read -r file; do
        folder=$(dirname "$file")
        while [ "$folder" != . ] && rmdir "$prefix/$folder" 2>/dev/null; do folder=$(dirname "$folder"); done
    done <"$manifest"
    rm -rf "$app"
    rmdir "$prefix/lib" 2>/dev/null || true
    refresh
}

install_here() {
    [ -x "$here/lib/bindscope/bindscope-app" ] || { echo "install.sh: run it from the unpacked BindScope tarball" >&2; exit 2; }
    [ ! -f "$manifest" ] || uninstall
    mkdir -p "$prefix/lib"
    rm -rf "$app.partial"
    cp -a "$here/lib/bindscope" "$app.partial"
    (cd "$here" && find bin share \( -type f -o -type l \) | sort) >"$app.partial/installed-files"
    cp "$here/install.sh" "$app.partial/install.sh"
    printf '#!/bin/sh\n# Removes BindScope from %s\nexec "$(dirname "$0")/install.sh" --uninstall --prefix "%s"\n' \
        "$prefix" "$prefix" >"$app.partial/uninstall.sh"
    chmod 755 "$app.partial/install.sh" "$app.partial/uninstall.sh"
    mv "$app.partial" "$app"
    (cd "$here" && find bin share -type l) | while IFS= read -r link; do
        mkdir -p "$prefix/$(dirname "$link")"
        cp -P "$here/$link" "$prefix/$link"
    done
    (cd "$here" && find share -type f) | while IFS= read -r file; do
        mkdir -p "$prefix/$(dirname "$file")"
        cp "$here/$file" "$prefix/$file"
    done
    entry="$prefix/share/applications/bindscope.desktop"
    sed -e "s|^Exec=[^ ]*|Exec=\"$prefix/bin/bindscope-app\"|" -e "s|^TryExec=.*|TryExec=$prefix/bin/bindscope-app|" \
        "$here/share/applications/bindscope.desktop" >"$entry"
    refresh
    echo "BindScope is installed in $app; the commands are $prefix/bin/bindscope and $prefix/bin/bindscope-app"
    case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "($prefix/bin is not on your PATH; add it to run bindscope by name)" ;; esac
}

"$action"
