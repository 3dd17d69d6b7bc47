"""Reading and validating input images: limits, EXIF rotation, colour modes.

Everything that goes wrong here is an ``InputError`` naming the file; everything that is
changed silently elsewhere (alpha flattened, 16-bit reduced, first frame of an animation
taken) is an ``Img2GifWarning``.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

DEFAULT_MAX_PIXELS = 50_000_000   # ~ 8700 x 5700; a 50 Mpx float RGB image is 600 MB
MIN_SIDE = 2


class Img2GifWarning(UserWarning):
    """Something about the input was changed; the work goes on."""


def max_pixels() -> int:
    """The pixel limit: IMG2GIF_MAX_PIXELS if set, else 50 million."""
    value = os.environ.get("IMG2GIF_MAX_PIXELS")
    if value is None:
        return DEFAULT_MAX_PIXELS
    try:
        return max(1, int(value))
    except ValueError:
        raise InputError(f"IMG2GIF_MAX_PIXELS must be a whole number, got {value!r}") from None


def _to_rgb(im: Image.Image, path: str) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        warnings.warn(f"{path}: {mode} image reduced to 8 bits", Img2GifWarning, stacklevel=3)
        gray = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255:
            warnings.warn(f"{path}: transparency flattened onto white", Img2GifWarning, stacklevel=3)
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    if im.mode != "RGB":
        im = im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return np.array(im, dtype=np.uint8)


def read_image(path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, upright per its EXIF orientation.

    Raises InputError for missing, empty, unreadable, truncated, too small or too large files.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected an image file")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image, or a format Pillow cannot read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: image is too large (over the limit of {limit:,} pixels; set IMG2GIF_MAX_PIXELS to raise it)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read image ({exc})") from None
    with im:
        w, h = im.size
        if w * h > limit:
            raise InputError(f"{path}: image is {w}x{h} = {w * h:,} pixels, over the limit of {limit:,} (set IMG2GIF_MAX_PIXELS to raise it)")
        if w < MIN_SIDE or h < MIN_SIDE:
            raise InputError(f"{path}: image is {w}x{h}; both sides must be at least {MIN_SIDE} pixels")
        if getattr(im, "n_frames", 1) > 1:
            warnings.warn(f"{path}: animated image, using its first frame", Img2GifWarning, stacklevel=2)
        try:
            im.seek(0)
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im, path)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise InputError(f"{path}: truncated or corrupt image ({exc})") from None


def match_size(a: np.ndarray, b: np.ndarray, b_name: str = "B") -> np.ndarray:
    """Policy for pairs of different sizes: B is resized to A's size (with a warning)."""
    if a.shape == b.shape:
        return b
    ha, wa = a.shape[:2]
    hb, wb = b.shape[:2]
    note = " (aspect ratios differ: B is stretched)" if abs(wa / ha - wb / hb) > 0.01 else ""
    warnings.warn(f"{b_name} is {wb}x{hb}, A is {wa}x{ha}: B resized to A's size{note}", Img2GifWarning, stacklevel=2)
    return np.array(Image.fromarray(b).resize((wa, ha), Image.Resampling.LANCZOS))


def cap_size(image: np.ndarray, longest: int | None) -> np.ndarray:
    """Downscale so the longer side is at most ``longest`` (None: unchanged)."""
    if longest is None:
        return image
    h, w = image.shape[:2]
    if max(h, w) <= longest:
        return image
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.array(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
