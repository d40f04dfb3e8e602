"""Resumable HTTP download into the cache, with progress, cancellation and a size check.

Bytes go to ``<dest>.part``; an interrupted download continues from there with an HTTP Range
request; the file is renamed into place only once its size is verified.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20
Progress = Callable[[int, int | None], None]


class DownloadError(Exception):
    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class DownloadCancelled(DownloadError):
    pass


def download(
    url: str,
    dest: str | Path,
    *,
    min_size: int | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest`` (resuming ``dest.part``); ``progress(done, total)`` after each chunk."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(
        url, headers={"User-Agent": "BindScope", **({"Range": f"bytes={done}-"} if done else {})}
    )
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and done:  # the partial file is already whole
            return _finish(part, dest, done, done, min_size, url)
        raise DownloadError(url, f"the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            url, f"cannot reach the server ({reason}); check the connection or download by hand"
        ) from None
    with response:
        resumed = response.status == 206
        if not resumed:
            done = 0
        length = response.headers.get("Content-Length")
        total = done + int(length) if length is not None else None
        with part.open("ab" if resumed else "wb") as out:
            while True:
                if cancelled():
                    raise DownloadCancelled(url, f"cancelled after {done:,} bytes; it will resume next time")
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as error:
                    raise DownloadError(
                        url, f"the connection broke after {done:,} bytes ({error}); run again to resume"
                    ) from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    return _finish(part, dest, done, total, min_size, url)


def _finish(part: Path, dest: Path, done: int, total: int | None, min_size: int | None, url: str) -> Path:
    if total is not None and done != total:
        raise DownloadError(url, f"got {done:,} of {total:,} bytes; run again to resume")
    if min_size is not None and done < min_size:
        part.unlink(missing_ok=True)
        raise DownloadError(
            url, f"{done:,} bytes is smaller than the expected {min_size:,}; the partial file was removed"
        )
    os.replace(part, dest)
    return dest
