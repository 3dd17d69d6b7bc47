"""Model registry and cache: shipped copies, downloads from a local server, hashes, offline."""
import hashlib
import http.server
import os
import threading

import pytest

from img2gif import models
from img2gif.errors import InputError

PAYLOAD = b"img2gif test model bytes " * 2000


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = PAYLOAD
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut.pt":  # promise everything, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IMG2GIF_OFFLINE", raising=False)
    return tmp_path / "cache" / "models"


def entry(url, sha=None):
    return {"file": "m.pt", "source": url, "sha256": sha or hashlib.sha256(PAYLOAD).hexdigest(), "size": len(PAYLOAD)}


def test_download_good_hash_then_cached(server, cache):
    progress = []
    path = models.fetch("m", entry(f"{server}/m.pt"), progress=lambda done, total: progress.append((done, total)))
    assert path.read_bytes() == PAYLOAD and path.parent == cache
    assert progress[-1] == (len(PAYLOAD), len(PAYLOAD))
    os.environ["IMG2GIF_OFFLINE"] = "1"  # cached: no network needed any more
    try:
        assert models.fetch("m", entry("http://127.0.0.1:9/never")) == path
    finally:
        del os.environ["IMG2GIF_OFFLINE"]


def test_bad_hash_leaves_nothing(server, cache):
    with pytest.raises(InputError, match="sha256 mismatch"):
        models.fetch("m", entry(f"{server}/m.pt", sha="0" * 64))
    assert not cache.exists() or os.listdir(cache) == []


def test_cut_off_transfer_leaves_nothing(server, cache):
    with pytest.raises(InputError, match="cut off|cannot download"):
        models.fetch("m", entry(f"{server}/cut.pt"))
    assert os.listdir(cache) == []


def test_offline_never_downloads(server, cache, monkeypatch):
    monkeypatch.setenv("IMG2GIF_OFFLINE", "1")
    with pytest.raises(InputError, match="IMG2GIF_OFFLINE"):
        models.fetch("m", entry(f"{server}/m.pt"))
    assert not cache.exists() or os.listdir(cache) == []


def test_corrupted_cache_entry_is_replaced(server, cache):
    path = models.fetch("m", entry(f"{server}/m.pt"))
    path.write_bytes(b"tampered")
    assert models.fetch("m", entry(f"{server}/m.pt")).read_bytes() == PAYLOAD


def test_names_and_paths(cache, tmp_path):
    assert models.is_model_name("smile") and models.is_model_name("my-faces_2")
    for not_a_name in ("../x", "/etc/passwd", "a/b", "x.pt", ".hidden", ""):
        assert not models.is_model_name(not_a_name)
    with pytest.raises(InputError, match="no such model file"):
        models.resolve("../x")
    with pytest.raises(InputError, match="unknown model 'nosuch'; known:"):
        models.resolve("nosuch")


def test_shipped_registry_entries_are_valid(cache):
    for name, item in models.registry().items():
        assert {"description", "file", "size", "sha256", "license", "training_command", "source"} <= set(item), name
        path = models.resolve(name)  # copied from the package into the cache, hash checked
        assert path.parent == cache and models.sha256_of(path) == item["sha256"]
        assert path.stat().st_size == item["size"] < 5_000_000


def test_an_older_shipped_copy_in_the_cache_is_listed_as_such_and_replaced(cache):
    """A model shipped again (new version, new hash): the old cached file is not used."""
    from conftest import invoke

    entry = models.registry()["smile"]
    cache.mkdir(parents=True)
    (cache / entry["file"]).write_bytes(b"the smile model of an earlier release")
    assert not models.is_cached(entry)
    wide = {"COLUMNS": "400"}  # one table row per line
    smile_row = next(line for line in invoke("inspect", "--models", env=wide).stdout.splitlines() if " smile " in line)
    assert "older copy is cached" in smile_row and "cached: " not in smile_row
    path = models.resolve("smile")
    assert models.sha256_of(path) == entry["sha256"] and models.is_cached(entry)
    smile_row = next(line for line in invoke("inspect", "--models", env=wide).stdout.splitlines() if " smile " in line)
    assert "cached: " in smile_row and "older copy" not in smile_row
