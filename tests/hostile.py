"""A corpus of hostile and odd input files, generated on the fly (nothing is committed).

``build_corpus(folder)`` writes every case into ``folder`` and returns them as ``Case``s:
``readable`` says whether img2gif must read the file (then a command gives a correct
result) or refuse it (then a one-line error, exit code 2, nothing written).
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import blob_image

H, W = 24, 32


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    readable: bool
    too_small: bool = False  # decodable, but below img2gif's 2x2 minimum (inspect still reads it)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, depth: int, colour_type: int, raw_rows: bytes, extra: bytes = b"") -> bytes:
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + extra + _png_chunk(b"IDAT", zlib.compress(raw_rows)) + _png_chunk(b"IEND", b"")


def _encoded(image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(buf, fmt, **kw)
    return buf.getvalue()


def _rgb16_png() -> bytes:
    """16-bit RGB (Pillow cannot write it; written by hand)."""
    rows = np.linspace(0, 65535, H * W * 3).astype(">u2").reshape(H, W * 3)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    return _png(W, H, 16, 2, raw)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 frame header is rewritten to claim width x height."""
    data = bytearray(_encoded(blob_image(H, W), "JPEG"))
    at = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def _frames(n=3):
    return [Image.fromarray(blob_image(H, W, shift=(2.0 * k, 0.0))) for k in range(n)]


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 clockwise to display
    return _encoded(blob_image(H, W), "JPEG", exif=exif)


def _png_with_text_bomb() -> bytes:
    """A small PNG whose zTXt chunk inflates to 64 MB (Pillow refuses such text)."""
    text = b"Comment\0\0" + zlib.compress(b"\0" * (64 << 20), 9)
    raw = b"".join(b"\0" + bytes(W * 3) for _ in range(H))
    return _png(W, H, 8, 2, raw, extra=_png_chunk(b"zTXt", text))


def _palette_with_transparency() -> Image.Image:
    im = Image.fromarray(blob_image(H, W)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    im.info["transparency"] = 0
    return im


def build_corpus(folder: Path) -> list[Case]:
    folder.mkdir(parents=True, exist_ok=True)
    good = blob_image(H, W)
    rng = np.random.default_rng(0)
    cases: list[Case] = []

    def raw(name, data: bytes, readable=False):
        (folder / name).write_bytes(data)
        cases.append(Case(name, folder / name, readable))

    def image(name, im, readable=True, too_small=False, **kw):
        (Image.fromarray(im) if isinstance(im, np.ndarray) else im).save(folder / name, **kw)
        cases.append(Case(name, folder / name, readable, too_small))

    # unreadable: nothing to decode, or not an image at all
    raw("zero.png", b"")
    raw("zero.jpg", b"")
    raw("noise.png", rng.bytes(700))
    raw("noise.jpg", rng.bytes(700))
    raw("noise.gif", rng.bytes(700))
    raw("noise.webp", rng.bytes(700))
    raw("text.png", b"this is not an image\n" * 20)
    raw("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    raw("only-signature.png", b"\x89PNG\r\n\x1a\n")
    # damaged
    png = _encoded(good, "PNG")
    raw("truncated.png", png[: len(png) // 2])
    jpg = _encoded(blob_image(96, 128), "JPEG")
    raw("truncated.jpg", jpg[: len(jpg) // 2])
    gif = _encoded(good, "GIF")
    raw("truncated.gif", gif[: len(gif) // 2])
    bad_crc = bytearray(png)
    bad_crc[-20] ^= 0xFF  # inside the IDAT data: checksum no longer matches
    raw("bad-crc.png", bytes(bad_crc))
    # too big or too small for what they claim
    raw("bomb.png", _png(100_000, 100_000, 8, 2, b"\0" * 16))
    raw("bomb.jpg", _jpeg_claiming(60_000, 60_000))
    raw("text-bomb.png", _png_with_text_bomb())
    image("one-pixel.png", Image.new("RGB", (1, 1), (200, 10, 10)), readable=False, too_small=True)
    image("one-row.png", Image.new("RGB", (64, 1), (200, 10, 10)), readable=False, too_small=True)
    # odd but valid: extreme shapes, bit depths, colour modes, containers
    image("wide-2x300.png", np.tile(good[:2, :1], (1, 300, 1)))
    image("tall-300x2.png", np.tile(good[:1, :2], (300, 1, 1)))
    image("smallest-2x2.png", good[:2, :2])
    image("gray16.png", Image.fromarray((np.linspace(0, 65535, H * W).reshape(H, W)).astype(np.uint16)))
    raw("rgb16.png", _rgb16_png(), readable=True)
    image("gray.png", Image.fromarray(good).convert("L"))
    image("gray-alpha.png", Image.fromarray(good).convert("LA"))
    image("rgba-transparent.png", Image.fromarray(np.dstack([good, np.full((H, W), 90, np.uint8)])))
    image("one-bit.png", Image.fromarray(good).convert("1"))
    image("cmyk.jpg", Image.fromarray(good).convert("CMYK"))
    image("palette-transparent.png", _palette_with_transparency())
    image("palette-transparent.gif", _palette_with_transparency())
    frames = _frames()
    image("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)
    image("animated.png", frames[0], save_all=True, append_images=frames[1:], duration=100)
    image("animated.webp", frames[0], save_all=True, append_images=frames[1:], duration=100)
    raw("exif-rotated.jpg", _exif_rotated_jpeg(), readable=True)
    image("still.webp", good, lossless=True)
    image("still.bmp", good)
    image("still.tif", good)
    # names a shell or an option parser could trip on
    for name in ("with spaces.png", "quote's \"double\".png", "-leading-dash.png", "фото_ü_日本.png"):
        image(name, good)
    # not regular files
    (folder / "folder.png").mkdir()
    cases.append(Case("folder.png", folder / "folder.png", False))
    cases.append(Case("missing.png", folder / "missing.png", False))
    os.symlink(folder / "nowhere.png", folder / "dangling.png")
    cases.append(Case("dangling.png", folder / "dangling.png", False))
    os.symlink(folder / "still.bmp", folder / "link.png")
    cases.append(Case("link.png", folder / "link.png", True))
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")  # opening it to read would block forever
        cases.append(Case("pipe.png", folder / "pipe.png", False))
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", folder / "endless.png")  # a read never ends
        cases.append(Case("endless.png", folder / "endless.png", False))
    return cases
