"""Property-based: valid image bytes, mutated by hypothesis, never get past the contract.

Mutations: bytes overwritten, runs inserted or deleted, the file cut short, a header
field set to an extreme. For each mutated file: read_image returns an (H, W, 3) uint8
image or raises InputError naming the file, in bounded time; through the CLI the run
either writes a correct animation or prints one "error:" line with exit code 2, and
leaves nothing else in the output folder.
"""
from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import blob_image
from img2gif.errors import InputError
from img2gif.imagefile import read_image
from helpers import bounded, error_line, run

FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP", "tif": "TIFF"}


def _valid_bytes(ext: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(blob_image(20, 28)).save(buf, FORMATS[ext])
    return buf.getvalue()


VALID = {ext: _valid_bytes(ext) for ext in FORMATS}


@st.composite
def mutated(draw):
    """(extension, bytes): a valid encoding of a small image with 1-4 mutations."""
    ext = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[ext])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate", "extreme"]))
        # headers are where parsers go wrong: favour the first 64 bytes
        at = draw(st.one_of(st.integers(0, min(63, len(data) - 1)), st.integers(0, max(0, len(data) - 1))))
        if kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at:at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 32))]
        elif kind == "truncate":
            del data[at:]
        else:  # a 16- or 32-bit field set to its largest value (sizes, lengths, offsets)
            width = draw(st.sampled_from([2, 4]))
            data[at:at + width] = b"\xff" * width
        if not data:
            break
    return ext, bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_read_image_on_mutated_bytes(case, tmp_path):
    ext, data = case
    path = tmp_path / f"mutated.{ext}"
    path.write_bytes(data)
    with warnings.catch_warnings(), bounded(30):
        warnings.simplefilter("ignore")
        try:
            image = read_image(path)
        except InputError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
            return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert min(image.shape[:2]) >= 2


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_CACHE_DIR", str(tmp_path / "cache"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_animate_with_model_on_mutated_bytes(case, tmp_path, cache):
    ext, data = case
    src = tmp_path / "in"
    out = tmp_path / "out"
    src.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    for leftover in os.listdir(out):  # hypothesis reuses tmp_path across examples
        os.remove(out / leftover)
    path = src / f"mutated.{ext}"
    path.write_bytes(data)
    with warnings.catch_warnings(), bounded(60):
        warnings.simplefilter("ignore")
        result = run("animate", path, "--model", "digits", "--frames", 3, "--size", 64, "-o", out / "x.gif", "-q")
    if result.exit_code == 0:
        assert os.listdir(out) == ["x.gif"]
        with Image.open(out / "x.gif") as im:
            assert 1 <= im.n_frames <= 3 and max(im.size) <= 64
    else:
        assert str(path) in error_line(result)
        assert os.listdir(out) == []
