"""Resumable HTTP download into the cache, with progress, cancellation, a size and a SHA-256 check.

Bytes go to ``<dest>.part``; an interrupted download continues from there with an HTTP Range
request; the file is renamed into place only once its size (and, when one is pinned, its
SHA-256, hashed as the bytes arrive) is verified.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from engine.progress import Cancelled, Progress, never

CHUNK = 1 << 20


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
    sha256: str | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled = never,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest`` (resuming ``dest.part``); ``progress("download", done, total)`` after each chunk."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    check = _Check(url, part, min_size, sha256)
    request = urllib.request.Request(
        url, headers={"User-Agent": "BindScope", **({"Range": f"bytes={done}-"} if done else {})}
    )
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and done:  # the partial file is already whole
            check.hash_existing()
            return _finish(part, dest, done, done, check)
        raise DownloadError(url, f"the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            url, f"cannot reach the server ({reason}); check the connection or download by hand"
        ) from None
    with response:
        resumed = response.status == 206
        if resumed:
            check.hash_existing()
        else:
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
                check.digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress("download", done, total)
    return _finish(part, dest, done, total, check)


class _Check:
    """What the finished file must be: at least ``min_size`` bytes and, when pinned, of SHA-256 ``sha256``."""

    def __init__(self, url: str, part: Path, min_size: int | None, sha256: str | None):
        self.url, self.part, self.min_size, self.sha256 = url, part, min_size, sha256
        self.digest = hashlib.sha256()

    def hash_existing(self) -> None:
        """Hash the bytes an earlier run left in the partial file, before new ones are appended."""
        with self.part.open("rb") as handle:
            while block := handle.read(CHUNK):
                self.digest.update(block)

    def verify(self, done: int) -> None:
        if self.min_size is not None and done < self.min_size:
            self._reject(f"{done:,} bytes is smaller than the expected {self.min_size:,}")
        if self.sha256 is not None and self.digest.hexdigest() != self.sha256.lower():
            self._reject(f"the SHA-256 is {self.digest.hexdigest()}, not the expected {self.sha256}; it is damaged")

    def _reject(self, reason: str) -> None:
        self.part.unlink(missing_ok=True)
        raise DownloadError(self.url, f"{reason}; the partial file was removed, run again to download it afresh")


def _finish(part: Path, dest: Path, done: int, total: int | None, check: _Check) -> Path:
    if total is not None and done != total:
        raise DownloadError(check.url, f"got {done:,} of {total:,} bytes; run again to resume")
    check.verify(done)
    os.replace(part, dest)
    return dest
