"""The resumable download against a real local HTTP server that honours Range requests."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from engine.models.download import DownloadCancelled, DownloadError, download
from engine.models.zoo import WeightSource

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Handler(BaseHTTPRequestHandler):
    cut_after: int | None = None  # close the connection early, once, after this many bytes
    ranges_seen: ClassVar[list] = []

    def do_GET(self):
        if self.path != "/weights.bin":
            self.send_error(404, "Not Found")
            return
        start = 0
        header = self.headers.get("Range")
        Handler.ranges_seen.append(header)
        if header:
            start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(PAYLOAD):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if Handler.cut_after is not None:
            body, Handler.cut_after = body[: Handler.cut_after], None
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    Handler.cut_after, Handler.ranges_seen = None, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_full_download_with_progress(server, tmp_path):
    seen = []
    path = download(
        f"{server}/weights.bin", tmp_path / "w.bin", progress=lambda _phase, done, total: seen.append((done, total))
    )
    assert path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not (tmp_path / "w.bin.part").exists()


def test_broken_connection_then_resume(server, tmp_path):
    Handler.cut_after = 300_000
    with pytest.raises(DownloadError, match="run again to resume"):
        download(f"{server}/weights.bin", tmp_path / "w.bin", timeout=5)
    assert (tmp_path / "w.bin.part").stat().st_size == 300_000
    assert not (tmp_path / "w.bin").exists()
    download(f"{server}/weights.bin", tmp_path / "w.bin")
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD
    assert Handler.ranges_seen[-1] == "bytes=300000-"


def test_cancel_keeps_partial_file_for_later(server, tmp_path):
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(DownloadCancelled, match="it will resume next time"):
        download(f"{server}/weights.bin", tmp_path / "w.bin", cancelled=cancelled)
    assert (tmp_path / "w.bin.part").exists()
    download(f"{server}/weights.bin", tmp_path / "w.bin")
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD


def test_too_small_is_rejected(server, tmp_path):
    with pytest.raises(DownloadError, match="smaller than the expected"):
        download(f"{server}/weights.bin", tmp_path / "w.bin", min_size=len(PAYLOAD) + 1)
    assert not (tmp_path / "w.bin").exists()


def test_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server}/missing.bin", tmp_path / "w.bin")


def test_unreachable_server(tmp_path):
    with pytest.raises(DownloadError, match="cannot reach the server"):
        download("http://127.0.0.1:9/weights.bin", tmp_path / "w.bin", timeout=2)


def test_pinned_sha256_is_verified_while_downloading(server, tmp_path):
    path = download(f"{server}/weights.bin", tmp_path / "w.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert path.read_bytes() == PAYLOAD


def test_sha256_mismatch_removes_the_partial_file(server, tmp_path):
    with pytest.raises(DownloadError, match=f"the SHA-256 is {hashlib.sha256(PAYLOAD).hexdigest()}, not the expected"):
        download(f"{server}/weights.bin", tmp_path / "w.bin", sha256="0" * 64)
    assert not (tmp_path / "w.bin").exists() and not (tmp_path / "w.bin.part").exists()


def test_resumed_download_is_hashed_whole(server, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    for damage in (False, True):
        Handler.cut_after = 300_000
        with pytest.raises(DownloadError, match="run again to resume"):
            download(f"{server}/weights.bin", tmp_path / "w.bin", timeout=5)
        part = tmp_path / "w.bin.part"
        if damage:  # the bytes kept from the first run changed while they waited
            part.write_bytes(b"X" + part.read_bytes()[1:])
            with pytest.raises(DownloadError, match="SHA-256"):
                download(f"{server}/weights.bin", tmp_path / "w.bin", sha256=digest)
            assert not part.exists() and not (tmp_path / "w.bin").exists()
        else:
            assert download(f"{server}/weights.bin", tmp_path / "w.bin", sha256=digest).read_bytes() == PAYLOAD
            (tmp_path / "w.bin").unlink()
        assert Handler.ranges_seen[-1] == "bytes=300000-"


def test_whole_partial_file_is_hashed_too(server, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    (tmp_path / "w.bin.part").write_bytes(PAYLOAD)  # complete: the server answers HTTP 416
    assert download(f"{server}/weights.bin", tmp_path / "w.bin", sha256=digest).read_bytes() == PAYLOAD
    (tmp_path / "w.bin.part").write_bytes(PAYLOAD[:-1] + b"\0")  # complete length, one wrong byte
    with pytest.raises(DownloadError, match="SHA-256"):
        download(f"{server}/weights.bin", tmp_path / "w.bin", sha256=digest)
    assert Handler.ranges_seen[-1] == f"bytes={len(PAYLOAD)}-"
    assert not (tmp_path / "w.bin.part").exists()


def test_fetching_a_model_checks_the_sha256_its_source_pins(server, tmp_path, monkeypatch):
    import dataclasses

    from engine.models.factory import fetch_weights
    from tests.conftest import tiny_entry

    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))
    source = WeightSource("pinned.bin", url=f"{server}/weights.bin", sha256="0" * 64)
    with pytest.raises(DownloadError, match="not the expected 0000"):
        fetch_weights(dataclasses.replace(tiny_entry(), weights=source))
    source = dataclasses.replace(source, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert fetch_weights(dataclasses.replace(tiny_entry(), weights=source)).read_bytes() == PAYLOAD
