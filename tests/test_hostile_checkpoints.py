"""Checkpoints from anywhere, through every subcommand that loads one.

A .pt that would run code is refused and the code never runs (a marker file proves it);
truncated or bit-flipped files give a clear error (a content digest catches flipped tensor
bytes, which torch.load would not notice); a newer
format says so; a cached shipped model whose bytes changed is replaced, never used.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import blob_image
from img2gif import checkpoint, models
from img2gif.errors import InputError
from helpers import bounded, error_line, run

H, W = 24, 32


class _Payload:
    """Unpickling this calls os.system: an unsafe load would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def image(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "a.png"
    Image.fromarray(blob_image(H, W)).save(path)
    return path


def _loaders(pt, image, out):
    """Every CLI use of a .pt file: (args, what it expects)."""
    return [
        ["inspect", pt],
        ["animate", "--from", pt, "-o", out / "x.gif", "--frames", 3],
        ["animate", image, "--model", pt, "-o", out / "x.gif", "--frames", 3],
        ["reverse", image, "--model", pt, "-o", out / "x.gif", "--frames", 3],
    ]


@pytest.mark.parametrize("kind", ["img2gif.pair", "img2gif.model"])
def test_code_payload_is_refused_by_every_loader(kind, tmp_path, image):
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"format": kind, "format_version": 1, "state_dict": {"w": _Payload(marker)}}, evil)
    out = tmp_path / "out"
    out.mkdir()
    for args in _loaders(evil, image, out):
        line = error_line(run(*args))
        assert str(evil) in line and "refused" in line, line
        assert os.listdir(out) == []
    assert not marker.exists()


def _real_checkpoints(tmp_path, image):
    pair = tmp_path / "pair.pt"
    result = run("fit-pair", image, image, "-o", pair, "--working-size", 16, "-q")
    assert result.exit_code == 0, result.output
    return {"pair": pair, "model": models.resolve("digits")}


def test_truncated_checkpoints_give_one_clear_error(tmp_path, image):
    for name, source in _real_checkpoints(tmp_path, image).items():
        data = source.read_bytes()
        for cut in (1, 64, len(data) // 3, len(data) // 2, len(data) - 1):
            bad = tmp_path / f"{name}-cut{cut}.pt"
            bad.write_bytes(data[:cut])
            line = error_line(run("inspect", bad))
            assert str(bad) in line and ("truncated or corrupt" in line or "not an img2gif" in line), line


def test_bit_flipped_checkpoints_are_refused_unless_their_content_is_intact(tmp_path, image):
    """200 single-bit flips: a flipped file is refused (checksum, or unreadable), or it loads
    with exactly the saved content (the flip hit zip bookkeeping that does not matter)."""
    rng = np.random.default_rng(0)
    out = tmp_path / "out"
    out.mkdir()
    outcomes = {"loaded": 0, "refused": 0}
    for name, source in _real_checkpoints(tmp_path, image).items():
        data = source.read_bytes()
        original = checkpoint.load(source)
        for k in range(100):
            flipped = bytearray(data)
            at = int(rng.integers(0, len(data)))
            flipped[at] ^= 1 << int(rng.integers(0, 8))
            bad = tmp_path / f"{name}-flip{k}.pt"
            bad.write_bytes(bytes(flipped))
            try:
                with bounded(30):
                    loaded = checkpoint.load(bad)
                outcomes["loaded"] += 1
                if "digest" in original:
                    assert checkpoint.digest(loaded) == original["digest"]
            except InputError as exc:
                assert str(bad) in str(exc) and "\n" not in str(exc)
                outcomes["refused"] += 1
            if k % 10 == 0:  # and through the CLI, which must never show a traceback
                args = (["animate", "--from", bad] if name == "pair" else ["animate", image, "--model", bad])
                with warnings.catch_warnings(), bounded(60):
                    warnings.simplefilter("ignore")
                    result = run(*args, "-o", out / "x.gif", "--frames", 3)
                if result.exit_code == 0:
                    os.remove(out / "x.gif")
                else:
                    assert str(bad) in error_line(result)
                assert os.listdir(out) == []
            os.remove(bad)
    assert sum(outcomes.values()) == 200
    # the pair file has a digest (flips in tensors and config are caught); the shipped model may
    # predate it, but its sha256 in the registry guards the cached copy
    assert outcomes["refused"] >= 50


def test_newer_format_says_so_through_the_cli(tmp_path):
    future = tmp_path / "future.pt"
    torch.save({"format": "img2gif.model", "format_version": 99, "img2gif_version": "9.0"}, future)
    assert "newer img2gif" in error_line(run("inspect", future))


def test_model_of_the_wrong_shape_is_an_error_not_a_crash(tmp_path, image):
    record = torch.load(models.resolve("digits"), weights_only=True)
    record["state_dict"] = {k: v[..., :1] if v.dim() > 1 else v for k, v in record["state_dict"].items()}
    record["digest"] = checkpoint.digest(record)  # a consistent file, just not for this network
    bad = tmp_path / "wrong.pt"
    torch.save(record, bad)
    assert "incomplete or inconsistent" in error_line(run("animate", image, "--model", bad, "-o", tmp_path / "x.gif"))


@pytest.mark.parametrize("name", ["../digits", "/etc/passwd", "sub/digits", "digits.pt"])
def test_paths_are_never_taken_for_registry_names(name, tmp_path, image, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = error_line(run("animate", image, "--model", name, "-o", tmp_path / "x.gif"))
    assert "no such model file" in line or "not an img2gif" in line or "truncated or corrupt" in line


def test_tampered_shipped_model_in_the_cache_is_replaced(tmp_path, image):
    cached = models.resolve("digits")
    good = cached.read_bytes()
    marker = tmp_path / "payload-ran"
    torch.save({"format": "img2gif.model", "format_version": 1, "x": _Payload(marker)}, cached)
    result = run("animate", image, "--model", "digits", "-o", tmp_path / "x.gif", "--frames", 3)
    assert result.exit_code == 0, result.output
    assert cached.read_bytes() == good and not marker.exists()
