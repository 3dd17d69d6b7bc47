"""Reading and validating input images: limits, EXIF rotation, colour modes.

Everything that goes wrong here is an ``InputError`` naming the file; everything that is
changed silently elsewhere (alpha flattened, 16-bit reduced, first frame of an animation
taken) is an ``Img2GifWarning``.
"""
from __future__ import annotations

import os
import struct
import warnings

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from .errors import InputError, OptionError

DEFAULT_MAX_PIXELS = 50_000_000   # ~ 8700 x 5700; a 50 Mpx float RGB image is 600 MB
MIN_SIDE = 2


class Img2GifWarning(UserWarning):
    """Something about the input was changed; the work goes on."""


def env_limit(name: str, default: int, error=InputError) -> int:
    """A limit from environment variable ``name`` (a whole number >= 1), else ``default``."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise error(f"{name} must be a whole number, got {value!r}") from None
    if limit < 1:  # clamping would turn a typo (-5) into "refuse every image" without saying why
        raise error(f"{name} must be a whole number >= 1, got {value!r}")
    return limit


def max_pixels() -> int:
    """The pixel limit: IMG2GIF_MAX_PIXELS if set, else 50 million."""
    return env_limit("IMG2GIF_MAX_PIXELS", DEFAULT_MAX_PIXELS)


def check_image_size(width: int, height: int, source: str, name: str = "image") -> None:
    """InputError unless a ``width`` x ``height`` image is within max_pixels() and MIN_SIDE."""
    limit = max_pixels()
    if width * height > limit:
        raise InputError(f"{source}: {name} is {width}x{height} = {width * height:,} pixels, over the limit of {limit:,} "
                         "(set IMG2GIF_MAX_PIXELS to raise it)")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InputError(f"{source}: {name} is {width}x{height}; both sides must be at least {MIN_SIDE} pixels")


def check_image_array(array, source: str, name: str = "image", channels: tuple = (3,)) -> None:
    """InputError unless ``array`` is an (H, W, C) uint8 image within the size limits, C
    one of ``channels`` (3: RGB; 4: straight-alpha RGBA).

    The same rules as read_image, for images from anywhere (pair files, the API). Looks
    at shape and dtype only, so it is cheap on any array, however large it claims to be.
    """
    shape = getattr(array, "shape", None)
    if getattr(array, "dtype", None) != np.uint8 or shape is None or len(shape) != 3 or shape[2] not in channels:
        what = {(3,): "(height, width, 3) uint8 RGB", (4,): "(height, width, 4) uint8 RGBA"}.get(
            tuple(channels), "(height, width, 3 or 4) uint8 RGB or RGBA")
        raise InputError(f"{source}: {name} must be {what}, got "
                         f"{tuple(shape) if shape is not None else type(array).__name__} "
                         f"{getattr(array, 'dtype', '')}".rstrip())
    check_image_size(int(shape[1]), int(shape[0]), source, name)


def _to_8_bits(im: Image.Image, path: str) -> np.ndarray:
    """A 16-bit, 32-bit integer or float grayscale image as (H, W) uint8, with a warning saying how."""
    arr = np.asarray(im, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if im.mode == "F" and low >= 0.0 and high <= 1.0:
        top = 1.0  # float images are usually in [0, 1]: dividing by 255 would make them black
    elif im.mode.startswith("I;16") or high > 255:
        top = 65535.0
    else:
        top = 255.0
    clipped = " (values outside clipped)" if low < 0 or high > top else ""
    warnings.warn(f"{path}: {im.mode} image reduced to 8 bits: values 0..{top:g} scaled to 0..255{clipped}",
                  Img2GifWarning, stacklevel=5)
    arr = np.nan_to_num(arr, nan=0.0, posinf=top, neginf=0.0)
    return np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)


def _to_rgb(im: Image.Image, path: str, keep_alpha: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB; with ``keep_alpha``, (H, W, 4) straight-alpha RGBA where the
    image has a pixel that is not opaque (an opaque image stays RGB: nothing to keep)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        gray = _to_8_bits(im, path)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255 and keep_alpha:
            return np.array(im, dtype=np.uint8)
        if alpha.min() < 255:
            warnings.warn(f"{path}: transparency flattened onto white", Img2GifWarning, stacklevel=4)
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    if im.mode != "RGB":
        im = im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return np.array(im, dtype=np.uint8)


def read_image(path, keep_alpha: bool = False) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, upright per its EXIF orientation.

    ``keep_alpha``: an image with transparent pixels is (H, W, 4) straight-alpha RGBA
    instead of flattened onto white (with a warning); an opaque one is RGB all the same.

    Raises InputError for missing, empty, unreadable, truncated, too small or too large files.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected an image file")
    if not os.path.isfile(path):
        # a pipe would block the read and a device (/dev/zero) never ends
        raise InputError(f"{path}: not a regular file (a pipe, socket or device), expected an image file")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    limit = max_pixels()
    # Pillow's own bomb check (open, GIF/TIFF seek) must use our limit, not its 89 Mpx
    # default: else IMG2GIF_MAX_PIXELS could not raise the limit past 2 x 89 Mpx.
    pillow_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        # Pillow's own warnings (corrupt EXIF, ...) do not name the file, and on a file that is
        # refused they would add a second line to the one error: re-issue them only on success.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = _read(path, limit, keep_alpha)
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    for w in caught:
        if issubclass(w.category, Img2GifWarning):
            warnings.warn(w.message, Img2GifWarning, stacklevel=2)
        elif issubclass(w.category, UserWarning):
            warnings.warn(f"{path}: {w.message}", Img2GifWarning, stacklevel=2)
    return image


# What Pillow's decoders raise on corrupt data besides OSError (bad tag types, bad offsets).
_CORRUPT = (OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError, struct.error)

_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _read(path: str, limit: int, keep_alpha: bool = False) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # up to 2 x limit Pillow only warns: the check below gives the exact size
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image, or a format Pillow cannot read") from None
    except Image.DecompressionBombError:
        raise InputError(f"{path}: image is too large (over the limit of {limit:,} pixels; set IMG2GIF_MAX_PIXELS to raise it)") from None
    except _CORRUPT as exc:
        raise InputError(f"{path}: cannot read image ({exc})") from None
    with im:
        check_image_size(*im.size, path)  # from the header, before decoding
        try:
            if getattr(im, "n_frames", 1) > 1:
                warnings.warn(f"{path}: animated image, using its first frame", Img2GifWarning, stacklevel=3)
            im.seek(0)
            im.load()
            # Not ImageOps.exif_transpose: it re-serialises the EXIF block and fails on
            # malformed tags that do not matter here; only the orientation is needed.
            try:
                orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
            except _CORRUPT:
                orientation = 1
            method = _ORIENTATION.get(orientation) if isinstance(orientation, int) else None
            if method is not None:
                im = im.transpose(method)
            image = _to_rgb(im, path, keep_alpha)
        except (*_CORRUPT, Image.DecompressionBombError) as exc:
            raise InputError(f"{path}: truncated or corrupt image ({exc})") from None
    check_image_array(image, path, channels=(3, 4) if keep_alpha else (3,))  # the sides after the EXIF turn, and the (H, W, 3) uint8 contract
    return image


FITS = ("crop", "stretch", "pad")


def check_fit(fit: str) -> None:
    """Refuse an unknown --fit (before any work)."""
    if fit not in FITS:
        raise OptionError(f"unknown --fit {fit!r}; choose one of {', '.join(FITS)}")


def match_size(a: np.ndarray, b: np.ndarray, b_name: str = "B", fit: str = "crop") -> np.ndarray:
    """B made A's size when they differ, and a warning saying how (``fit``):

    - ``crop`` (default): the middle of B at A's aspect ratio, then resized (nothing stretched);
    - ``stretch``: B resized to A's size (aspect ratios that differ are distorted);
    - ``pad``: B resized to fit inside A's size, the rest black (nothing cut, nothing stretched).
    """
    check_fit(fit)
    if a.shape == b.shape:
        return b
    ha, wa = a.shape[:2]
    hb, wb = b.shape[:2]
    same_aspect = abs(wa / ha - wb / hb) <= 0.01 * (wa / ha)
    image = Image.fromarray(b)
    if same_aspect or fit == "stretch":
        how = "resized" + (" (aspect ratios differ: B is stretched; --fit crop or pad keeps its shape)" if not same_aspect else "")
        out = image.resize((wa, ha), Image.Resampling.LANCZOS)
    elif fit == "crop":
        if wb / hb > wa / ha:  # B is wider: keep its full height
            cw, ch = max(1, round(hb * wa / ha)), hb
        else:
            cw, ch = wb, max(1, round(wb * ha / wa))
        left, top = (wb - cw) // 2, (hb - ch) // 2
        how = f"cropped to its middle {cw}x{ch} (A's aspect ratio), then resized"
        out = image.crop((left, top, left + cw, top + ch)).resize((wa, ha), Image.Resampling.LANCZOS)
    else:
        scale = min(wa / wb, ha / hb)
        sw, sh = max(1, round(wb * scale)), max(1, round(hb * scale))
        canvas = Image.new(image.mode, (wa, ha))  # RGBA: the bars are transparent
        canvas.paste(image.resize((sw, sh), Image.Resampling.LANCZOS), ((wa - sw) // 2, (ha - sh) // 2))
        how = f"resized to {sw}x{sh} and padded with {'transparency' if image.mode == 'RGBA' else 'black'}"
        out = canvas
    warnings.warn(f"{b_name} is {wb}x{hb}, A is {wa}x{ha}: B {how} to A's size", Img2GifWarning, stacklevel=2)
    return np.array(out)


def capped_size(width: int, height: int, longest: int | None) -> tuple[int, int]:
    """(width, height) once the longer side is at most ``longest`` (None: unchanged)."""
    if longest is None or max(height, width) <= longest:
        return width, height
    scale = longest / max(height, width)
    return max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale))  # as read_image requires


def cap_size(image: np.ndarray, longest: int | None) -> np.ndarray:
    """Downscale so the longer side is at most ``longest`` (None: unchanged)."""
    h, w = image.shape[:2]
    size = capped_size(w, h, longest)
    if size == (w, h):
        return image
    return np.array(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def with_alpha(image: np.ndarray) -> np.ndarray:
    """(H, W, 4) RGBA: an RGB image gets an opaque alpha, an RGBA one is returned as it is."""
    if image.shape[2] == 4:
        return image
    return np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)


def parse_colour(text: str) -> tuple[int, int, int]:
    """--background: a colour name (white), #rgb, #rrggbb or rgb(r, g, b) as (r, g, b);
    OptionError otherwise. A colour with alpha is refused: the background must be opaque."""
    from PIL import ImageColor

    try:
        colour = ImageColor.getrgb(str(text).strip())
    except ValueError:
        raise OptionError(f"--background {text!r} is not a colour; give a name (white), #rrggbb or rgb(r, g, b)") from None
    if len(colour) == 4 and colour[3] != 255:
        raise OptionError(f"--background {text!r} is not opaque; the background must be (MP4 and flattened frames have no alpha)")
    return tuple(int(c) for c in colour[:3])


def composite(image: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """(H, W, 3) uint8: straight-alpha RGBA ``image`` over an opaque ``background``
    colour (an RGB image is returned as it is)."""
    if image.shape[2] == 3:
        return image
    back = Image.new("RGBA", (image.shape[1], image.shape[0]), tuple(background) + (255,))
    return np.array(Image.alpha_composite(back, Image.fromarray(image, "RGBA")).convert("RGB"))
