"""read_image / match_size / cap_size on every kind of input, good and bad.

Every image is made here in tmp_path (no data files). The contract under test: a bad
file raises InputError naming the file, never anything else; a changed input
(alpha flattened, 16-bit reduced, first frame of an animation) gives an
Img2GifWarning; the result is always (H, W, 3) uint8.
"""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import blob_image
from img2gif.errors import InputError
from img2gif.imagefile import DEFAULT_MAX_PIXELS, MIN_SIDE, Img2GifWarning, cap_size, match_size, read_image

H, W = 24, 32


# --- helpers ---------------------------------------------------------------------------

def read(path):
    """read_image(path) and the Img2GifWarning messages it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = read_image(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, Img2GifWarning)]
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    return image, messages


def read_error(path) -> str:
    """The InputError message for path (and check it names the file)."""
    with pytest.raises(InputError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_image(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    return message


def save(path, image, **kw):
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, **kw)
    return path


def encoded(image, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width, height, colour_type=2) -> bytes:
    """A PNG whose header declares width x height but holds almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + png_chunk(b"IEND", b""))


def tiff_ifds(data: bytes):
    """Offsets of the IFDs of a little-endian classic TIFF, and of each IFD's entries."""
    assert data[:4] == b"II*\0"
    ifds = []
    offset = struct.unpack_from("<I", data, 4)[0]
    while offset:
        n = struct.unpack_from("<H", data, offset)[0]
        entries = {struct.unpack_from("<H", data, offset + 2 + 12 * i)[0]: offset + 2 + 12 * i for i in range(n)}
        ifds.append(entries)
        offset = struct.unpack_from("<I", data, offset + 2 + 12 * n)[0]
    return ifds


def blocks_image():
    """24x32 RGB in four flat quadrants (red, green / blue, white): orientation is checkable."""
    img = np.zeros((H, W, 3), np.uint8)
    img[: H // 2, : W // 2] = (255, 0, 0)
    img[: H // 2, W // 2:] = (0, 255, 0)
    img[H // 2:, : W // 2] = (0, 0, 255)
    img[H // 2:, W // 2:] = (255, 255, 255)
    return img


# --- missing, empty, not an image ---------------------------------------------------------

def test_missing_file(tmp_path):
    assert "no such file" in read_error(tmp_path / "nope.png")


def test_directory_instead_of_file(tmp_path):
    d = tmp_path / "photo.png"
    d.mkdir()
    assert "directory" in read_error(d)


@pytest.mark.parametrize("name", ["empty.png", "empty.jpg"])
def test_zero_byte_file(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"")
    assert "empty" in read_error(p)


@pytest.mark.parametrize("name", ["noise.png", "noise.jpg", "noise.gif", "text.png"])
def test_random_bytes_with_image_extension(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"hello, this is not a picture\n" * 4 if name == "text.png" else np.random.default_rng(1).bytes(700))
    assert "not an image" in read_error(p)


@pytest.mark.parametrize("fmt,ext,size", [("PNG", "png", (H, W)), ("JPEG", "jpg", (H, W)), ("PNG", "png", (96, 128)),
                                          ("JPEG", "jpg", (96, 128)), ("GIF", "gif", (96, 128))])
def test_truncated_file(tmp_path, fmt, ext, size):
    rng = np.random.default_rng(0)
    data = encoded((rng.random((*size, 3)) * 255).astype(np.uint8), fmt)
    p = tmp_path / f"half.{ext}"
    p.write_bytes(data[: len(data) // 2])
    message = read_error(p).lower()
    assert "truncated" in message or "corrupt" in message or "cannot read" in message


def test_png_with_bad_checksum(tmp_path):
    data = bytearray(encoded(blob_image(H, W), "PNG"))
    data[29] ^= 0xFF  # inside IHDR's CRC
    p = tmp_path / "crc.png"
    p.write_bytes(bytes(data))
    read_error(p)


def test_tiff_with_text_typed_dimension(tmp_path):
    # ImageLength stored as ASCII: Pillow's open raises ValueError, which must become InputError.
    data = bytearray(encoded(blob_image(H, W), "TIFF"))
    entry = tiff_ifds(bytes(data))[0][0x0101]
    struct.pack_into("<HI", data, entry + 2, 2, 1)
    p = tmp_path / "bad_dims.tif"
    p.write_bytes(bytes(data))
    read_error(p)


def test_multipage_tiff_with_broken_second_page(tmp_path):
    # Page 2 loses its width tag: counting the pages raises TypeError inside Pillow.
    pages = [Image.fromarray(blob_image(H, W)), Image.fromarray(blob_image(H, W, seed=1))]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    data = bytearray(buf.getvalue())
    ifds = tiff_ifds(bytes(data))
    assert len(ifds) == 2
    struct.pack_into("<H", data, ifds[1][0x0100], 0xC6F0)  # an unknown private tag
    p = tmp_path / "pages.tif"
    p.write_bytes(bytes(data))
    read_error(p)


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("TIFF", "tif"), ("WEBP", "webp")])
def test_corrupted_headers_only_ever_raise_input_error(tmp_path, fmt, ext):
    """Seeded byte flips in the first 400 bytes (headers, EXIF): read or InputError, nothing else."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Maker"
    kw = {} if fmt == "GIF" else {"exif": exif}
    data = encoded(blob_image(H, W), fmt, **kw)
    rng = np.random.default_rng(7)
    p = tmp_path / f"fuzz.{ext}"
    for _ in range(150):
        d = bytearray(data)
        for _ in range(int(rng.integers(1, 5))):
            d[int(rng.integers(0, min(len(d), 400)))] = int(rng.integers(0, 256))
        p.write_bytes(bytes(d))
        try:
            read(p)
        except InputError as exc:
            assert str(p) in str(exc)


# --- size limits ------------------------------------------------------------------------

def test_decompression_bomb_header_is_refused_by_default_limit(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_claiming(100_000, 100_000))
    message = read_error(p)
    assert "too large" in message and f"{DEFAULT_MAX_PIXELS:,}" in message
    assert "IMG2GIF_MAX_PIXELS" in message


def test_size_between_limit_and_pillow_limit_is_refused(tmp_path):
    # 9000 x 9000 = 81 Mpx: under Pillow's own 89 Mpx, over img2gif's 50 Mpx
    p = tmp_path / "big.png"
    p.write_bytes(png_claiming(9000, 9000, colour_type=0))
    message = read_error(p)
    assert "9000x9000" in message and f"{DEFAULT_MAX_PIXELS:,}" in message


def test_env_limit_refuses_an_ordinary_image(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_MAX_PIXELS", "500")
    p = save(tmp_path / "a.png", blob_image(H, W))
    message = read_error(p)
    assert "500" in message and f"{W}x{H}" in message


def test_env_limit_refuses_a_header_bomb_and_names_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_MAX_PIXELS", "1000")
    p = tmp_path / "bomb.png"
    p.write_bytes(png_claiming(100, 100))  # 10,000 px: over twice the limit
    assert "1,000" in read_error(p)


def test_env_limit_above_pillows_limit_is_the_one_in_force(tmp_path, monkeypatch):
    # Stands in for IMG2GIF_MAX_PIXELS=200000000 with a 120 Mpx photo (over 2 x Pillow's 89 Mpx).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    monkeypatch.setenv("IMG2GIF_MAX_PIXELS", "10000")
    p = save(tmp_path / "a.png", blob_image(H, W))  # 768 px: > 2 x 100, < 10,000
    image, _ = read(p)
    assert image.shape == (H, W, 3)
    assert Image.MAX_IMAGE_PIXELS == 100  # Pillow's setting is put back


def test_env_limit_must_be_a_number(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_MAX_PIXELS", "lots")
    p = save(tmp_path / "a.png", blob_image(H, W))
    with pytest.raises(InputError, match="IMG2GIF_MAX_PIXELS"):
        read_image(p)


@pytest.mark.parametrize("value", ["-5", "0"])
def test_env_limit_below_one_is_refused_not_clamped(tmp_path, monkeypatch, value):
    monkeypatch.setenv("IMG2GIF_MAX_PIXELS", value)
    p = save(tmp_path / "a.png", blob_image(H, W))
    with pytest.raises(InputError, match=f"^IMG2GIF_MAX_PIXELS must be a whole number >= 1, got '{value}'$"):
        read_image(p)


@pytest.mark.parametrize("size", [(1, 1), (1, 50), (50, 1)])
def test_too_small(tmp_path, size):
    p = save(tmp_path / "tiny.png", Image.new("RGB", size, (10, 20, 30)))
    message = read_error(p)
    assert f"{size[0]}x{size[1]}" in message and str(MIN_SIDE) in message


def test_smallest_allowed_size_reads(tmp_path):
    p = save(tmp_path / "two.png", Image.new("RGB", (MIN_SIDE, MIN_SIDE), (10, 20, 30)))
    image, messages = read(p)
    assert image.shape == (MIN_SIDE, MIN_SIDE, 3) and (image == (10, 20, 30)).all() and messages == []


# --- colour modes -----------------------------------------------------------------------

def test_rgb_png_reads_exactly_without_warning(tmp_path):
    a = blob_image(H, W)
    image, messages = read(save(tmp_path / "a.png", a))
    assert np.array_equal(image, a) and messages == []


def test_grayscale_l(tmp_path):
    g = np.tile(np.arange(W, dtype=np.uint8) * 8, (H, 1))
    image, messages = read(save(tmp_path / "g.png", Image.fromarray(g, "L")))
    assert image.shape == (H, W, 3) and messages == []
    for c in range(3):
        assert np.array_equal(image[..., c], g)


def test_grayscale_with_alpha_la_is_flattened_onto_white(tmp_path):
    im = Image.new("LA", (W, H), (100, 255))
    im.paste((100, 0), (0, 0, W // 2, H))  # left half fully transparent
    image, messages = read(save(tmp_path / "la.png", im))
    assert (image[:, : W // 2] == 255).all() and (image[:, W // 2:] == 100).all()
    assert len(messages) == 1 and "transparency flattened" in messages[0] and "la.png" in messages[0]


def test_opaque_la_gives_no_warning(tmp_path):
    image, messages = read(save(tmp_path / "la.png", Image.new("LA", (W, H), (100, 255))))
    assert (image == 100).all() and messages == []


def test_rgba_with_transparency_is_flattened_onto_white(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[...] = (0, 0, 255, 255)          # opaque blue
    rgba[:, :8] = (255, 0, 0, 0)          # fully transparent red -> white
    rgba[:, 8:16] = (0, 0, 0, 128)        # half transparent black -> mid grey
    image, messages = read(save(tmp_path / "rgba.png", Image.fromarray(rgba, "RGBA")))
    assert (image[:, :8] == 255).all()
    assert (np.abs(image[:, 8:16].astype(int) - 127) <= 1).all()
    assert (image[:, 16:] == (0, 0, 255)).all()
    assert any("transparency flattened" in m for m in messages)


def test_opaque_rgba_gives_no_warning(tmp_path):
    rgba = np.dstack([blob_image(H, W), np.full((H, W), 255, np.uint8)])
    image, messages = read(save(tmp_path / "rgba.png", Image.fromarray(rgba, "RGBA")))
    assert np.array_equal(image, rgba[..., :3]) and messages == []


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (W, H), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (W // 2, 0, W, H))
    image, messages = read(save(tmp_path / "p.png", im, transparency=0))
    assert (image[:, : W // 2] == 255).all()           # index 0 is transparent -> white
    assert (image[:, W // 2:] == (0, 255, 0)).all()
    assert any("transparency flattened" in m for m in messages)


def test_palette_without_transparency(tmp_path):
    im = Image.new("P", (W, H), 1)
    im.putpalette([255, 0, 0, 10, 200, 30] + [0] * 762)
    image, messages = read(save(tmp_path / "p.png", im))
    assert (image == (10, 200, 30)).all() and messages == []


def test_16_bit_grayscale_is_reduced_to_8_bits(tmp_path):
    g = np.zeros((H, W), np.uint16)
    g[:, 8:16] = 32768
    g[:, 16:] = 65535
    p = save(tmp_path / "deep.png", Image.fromarray(g))
    with Image.open(p) as im:
        assert im.mode.startswith("I")  # the file really is 16-bit
    image, messages = read(p)
    assert (image[:, :8] == 0).all() and (image[:, 8:16] == 128).all() and (image[:, 16:] == 255).all()
    assert any("reduced to 8 bits" in m for m in messages)


def _float_tiff(path, values):
    im = Image.fromarray(values.astype(np.float32))
    assert im.mode == "F"
    return save(path, im)


def test_float_tiff_in_0_1_is_scaled_by_255_not_made_black(tmp_path):
    g = np.tile(np.linspace(0.0, 1.0, W), (H, 1))
    image, messages = read(_float_tiff(tmp_path / "f.tif", g))
    assert image[0, 0, 0] == 0 and image[0, -1, 0] == 255
    assert np.abs(image[..., 0].astype(int) - np.round(g * 255)).max() <= 1
    assert len(messages) == 1 and "F image reduced to 8 bits: values 0..1 scaled to 0..255" in messages[0]


def test_float_tiff_beyond_1_keeps_the_0_255_scale(tmp_path):
    g = np.tile(np.linspace(0.0, 200.0, W), (H, 1))
    image, messages = read(_float_tiff(tmp_path / "f.tif", g))
    assert image[0, -1, 0] == 200 and "values 0..255 scaled to 0..255" in messages[0]


def test_float_tiff_with_nan_reads_nan_as_black(tmp_path):
    g = np.full((H, W), 0.5)
    g[:, :4] = np.nan  # the range is taken from the finite values: still [0, 1]
    image, messages = read(_float_tiff(tmp_path / "f.tif", g))
    assert (image[:, :4] == 0).all() and (image[:, 4:] == 128).all()
    assert "values 0..1 scaled" in messages[0]


def test_cmyk_jpeg(tmp_path):
    im = Image.new("CMYK", (W, H), (0, 0, 0, 0))              # no ink: white
    im.paste((0, 255, 255, 0), (0, 0, W // 2, H))              # magenta + yellow: red
    p = save(tmp_path / "cmyk.jpg", im, quality=95)
    with Image.open(p) as check:
        assert check.mode == "CMYK"
    image, _ = read(p)
    assert (np.abs(image[:, : W // 2 - 4].astype(int) - (255, 0, 0)) <= 12).all()
    assert (np.abs(image[:, W // 2 + 4:].astype(int) - 255) <= 12).all()


def test_one_bit(tmp_path):
    bits = (np.indices((H, W)).sum(0) % 2).astype(bool)
    p = save(tmp_path / "bits.png", Image.fromarray(bits))
    with Image.open(p) as check:
        assert check.mode == "1"
    image, messages = read(p)
    assert np.array_equal(image[..., 0] == 255, bits) and set(np.unique(image)) <= {0, 255}
    assert messages == []


# --- orientation ------------------------------------------------------------------------

@pytest.mark.parametrize("orientation,turns", [(1, 0), (3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(tmp_path, orientation, turns):
    exif = Image.Exif()
    exif[0x0112] = orientation
    a = blocks_image()
    image, _ = read(save(tmp_path / "cam.jpg", a, exif=exif, quality=95))
    want = np.rot90(a, k=turns)  # np.rot90 turns counter-clockwise; 6 is 90 clockwise
    assert image.shape == want.shape
    assert np.abs(image.astype(int) - want).mean() < 8


def test_malformed_exif_tag_does_not_stop_the_read(tmp_path):
    # EXIF with Orientation 6 and a WhitePoint (a RATIONAL tag) stored as text, as some
    # cameras and editors write. The pixels are fine; the orientation still counts.
    ifd = struct.pack(">H", 2)
    ifd += struct.pack(">HHI", 0x0112, 3, 1) + struct.pack(">HH", 6, 0)
    ifd += struct.pack(">HHI", 0x013E, 2, 4) + b"abc\0"
    exif = b"Exif\0\0" + b"MM\0*" + struct.pack(">I", 8) + ifd + b"\0\0\0\0"
    a = blocks_image()
    image, _ = read(save(tmp_path / "odd_exif.jpg", a, exif=exif, quality=95))
    assert image.shape == (W, H, 3)
    assert np.abs(image.astype(int) - np.rot90(a, k=-1)).mean() < 8


# --- animations -------------------------------------------------------------------------

@pytest.mark.parametrize("ext", ["gif", "png", "webp"])
def test_animated_input_uses_first_frame_with_warning(tmp_path, ext):
    frames = [Image.new("RGB", (W, H), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    p = tmp_path / f"anim.{ext}"
    kw = {"lossless": True} if ext == "webp" else {}
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0, **kw)
    image, messages = read(p)
    assert image.shape == (H, W, 3)
    assert (np.abs(image.astype(int) - (255, 0, 0)) <= 2).all()
    assert any("animated" in m and "first frame" in m and f"anim.{ext}" in m for m in messages)


def test_single_frame_gif_gives_no_animation_warning(tmp_path):
    image, messages = read(save(tmp_path / "still.gif", Image.new("RGB", (W, H), (255, 0, 0))))
    assert (image == (255, 0, 0)).all() and not any("animated" in m for m in messages)


# --- file names -------------------------------------------------------------------------

def test_name_with_spaces_quotes_and_non_ascii(tmp_path):
    folder = tmp_path / "my pictures «été»"
    folder.mkdir()
    a = blob_image(H, W)
    image, _ = read(save(folder / "it's a \"photo\" – Zürich 東京.png", a))
    assert np.array_equal(image, a)
    assert "Zürich 東京" in read_error(folder / "missing – Zürich 東京.png")


# --- match_size -------------------------------------------------------------------------

def test_match_size_same_shape_is_unchanged():
    a, b = blob_image(H, W), blob_image(H, W, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert match_size(a, b) is b


def test_match_size_resizes_b_to_a_with_warning():
    a = blob_image(H, W)
    b = blob_image(2 * H, 2 * W)  # same aspect ratio, same content
    with pytest.warns(Img2GifWarning, match=f"B is {2 * W}x{2 * H}, A is {W}x{H}") as caught:
        out = match_size(a, b)
    assert out.shape == a.shape and out.dtype == np.uint8
    assert not any("stretched" in str(w.message) for w in caught)
    assert np.abs(out.astype(int) - a).mean() < 6  # it is b downscaled, not garbage


def test_match_size_says_when_b_is_stretched():
    a, b = blob_image(H, W), blob_image(40, 30)
    with pytest.warns(Img2GifWarning, match="stretched"):
        out = match_size(a, b, b_name="end.png", fit="stretch")
    assert out.shape == (H, W, 3)


def _bars(width, height, wide: bool) -> np.ndarray:
    """A picture whose middle is gray and whose outer quarter (left/right or top/bottom) is red."""
    out = np.full((height, width, 3), 128, np.uint8)
    if wide:
        out[:, : width // 4] = out[:, width - width // 4:] = (255, 0, 0)
    else:
        out[: height // 4] = out[height - height // 4:] = (255, 0, 0)
    return out


def test_match_size_crops_b_to_a_aspect_by_default():
    a = np.zeros((40, 40, 3), np.uint8)
    b = _bars(80, 40, wide=True)  # twice as wide: cropping to square keeps the gray middle
    with pytest.warns(Img2GifWarning, match="cropped to its middle 40x40"):
        out = match_size(a, b)
    assert out.shape == (40, 40, 3) and np.abs(out.astype(int) - 128).max() <= 2


def test_match_size_pads_without_cutting():
    a = np.zeros((40, 40, 3), np.uint8)
    b = _bars(80, 40, wide=True)
    with pytest.warns(Img2GifWarning, match="resized to 40x20 and padded with black"):
        out = match_size(a, b, fit="pad")
    assert out.shape == (40, 40, 3)
    assert out[:10].max() == 0 and out[30:].max() == 0  # bars above and below
    assert out[20, 2, 0] > 200 and abs(int(out[20, 20, 0]) - 128) <= 2  # all of B: red edges kept


def test_match_size_crops_a_tall_b_too():
    a = np.zeros((40, 40, 3), np.uint8)
    with pytest.warns(Img2GifWarning, match="cropped to its middle 30x30"):
        out = match_size(a, _bars(30, 60, wide=False))
    assert np.abs(out.astype(int) - 128).max() <= 2


def test_match_size_refuses_an_unknown_fit():
    from img2gif.errors import OptionError

    with pytest.raises(OptionError, match="--fit"):
        match_size(blob_image(H, W), blob_image(40, 30), fit="zoom")


def test_match_size_uses_the_given_name():
    with pytest.warns(Img2GifWarning, match="^end.png is"):
        match_size(blob_image(H, W), blob_image(H + 2, W + 2), b_name="end.png")


# --- cap_size ---------------------------------------------------------------------------

def test_cap_size_none_or_large_enough_is_unchanged():
    a = blob_image(H, W)
    assert cap_size(a, None) is a
    assert cap_size(a, W) is a
    assert cap_size(a, 1000) is a


@pytest.mark.parametrize("shape,longest,want", [((H, W), 16, (12, 16)), ((W, H), 16, (16, 12)),
                                                ((100, 10), 20, (20, 2)), ((48, 64), 63, (47, 63))])
def test_cap_size_keeps_aspect(shape, longest, want):
    out = cap_size(blob_image(*shape), longest)
    assert out.shape == (*want, 3) and out.dtype == np.uint8


def test_cap_size_never_goes_below_the_readable_minimum():
    out = cap_size(blob_image(4, 200), 16)
    assert out.shape[:2] == (MIN_SIDE, 16)
