"""A model applied to one box of a larger image (``--crop``): a face in a portrait.

A model is trained on crops framed one way (the smile model: a square face, the mouth 80 %
of the way down). Given a whole photo it squeezes the photo into its square and moves
whatever sits where the mouth and cheeks would be: the jaw bulges, the background bends.
With a region the model sees the box alone, at its own size; its field is stretched back
over the box, faded to zero over the box's outer band (so nothing tears at the box's edge)
and is zero outside it: the rest of the photo is left exactly as it was.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError, OptionError

SMALLEST = 8    # pixels on each side: the smallest size a model is trained at
TAPER = 0.0625  # share of the box's width (height) on each side over which its field fades to zero:
                # a sixteenth keeps clear of a face crop's mouth (smile: down to 94 % of the box)


@dataclass(frozen=True)
class Region:
    """A box of an image in pixels: its top-left corner (x, y) and its size."""

    x: int
    y: int
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"

    def scaled(self, factor_x: float, factor_y: float) -> "Region":
        """The same box in an image resized by these factors (at least SMALLEST wide)."""
        x, y = round(self.x * factor_x), round(self.y * factor_y)
        return Region(x, y, max(SMALLEST, round(self.width * factor_x)), max(SMALLEST, round(self.height * factor_y)))

    def check_inside(self, image_width: int, image_height: int, name) -> None:
        """Refuse a box that is not wholly inside an image of this size (``name``: its file)."""
        if self.x + self.width > image_width or self.y + self.height > image_height:
            raise InputError(f"{name}: --crop {self} reaches beyond the {image_width}x{image_height} image "
                             f"(its box ends at x = {self.x + self.width}, y = {self.y + self.height})")

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The box's pixels of an (H, W, C) image."""
        return image[self.y:self.y + self.height, self.x:self.x + self.width]


def as_region(value) -> Region | None:
    """A Region from a Region, an (x, y, width, height) sequence or "X,Y,W,H" text (None stays None).

    Raises OptionError for anything else, for negative corners and for sides under SMALLEST.
    """
    if value is None or isinstance(value, Region):
        numbers = value
    elif isinstance(value, str):
        if not re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*){3}", value):
            raise OptionError(f"--crop must be X,Y,W,H in whole pixels (the box's top-left corner, then its "
                              f"width and height), got {value!r}")
        numbers = Region(*(int(v) for v in value.split(",")))
    elif isinstance(value, (tuple, list)) and len(value) == 4 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        numbers = Region(*(int(v) for v in value))
    else:
        raise OptionError(f"crop must be (x, y, width, height) in whole pixels, got {value!r}")
    if numbers is not None:
        if numbers.x < 0 or numbers.y < 0:
            raise OptionError(f"--crop {numbers}: the box's corner must not be negative")
        if numbers.width < SMALLEST or numbers.height < SMALLEST:
            raise OptionError(f"--crop {numbers}: the box must be at least {SMALLEST}x{SMALLEST} pixels")
    return numbers


def _fade(n: int, band: float, like: torch.Tensor) -> torch.Tensor:
    """(n,) weights: 0 at both ends, rising to 1 over ``band`` pixels with a smoothstep."""
    position = torch.arange(n, device=like.device, dtype=like.dtype)
    distance = torch.minimum(position, (n - 1) - position)
    u = (distance / max(band, 1e-6)).clamp(0, 1)
    return u * u * (3 - 2 * u)


def paste_field(phi: torch.Tensor, region: Region, image_height: int, image_width: int) -> torch.Tensor:
    """A model's fields for the box, made the whole image's: (T, 2, s, s) -> (T, 2, H, W).

    ``phi`` is in the box's normalised coordinates (align_corners=True, as ``warp.sample``);
    the result is in the image's, upsampled bilinearly over the box, faded to zero over its
    outer TAPER band and zero outside it.
    """
    if phi.dim() != 4 or phi.shape[1] != 2:
        raise ValueError(f"phi must be (T, 2, h, w), got {tuple(phi.shape)}")
    region.check_inside(image_width, image_height, "the image")
    inside = F.interpolate(phi, size=(region.height, region.width), mode="bilinear", align_corners=True)
    # a displacement of d box-widths is d * (box - 1) / (image - 1) image-widths
    scale = torch.tensor([(region.width - 1) / max(image_width - 1, 1), (region.height - 1) / max(image_height - 1, 1)],
                         device=phi.device, dtype=phi.dtype).view(1, 2, 1, 1)
    fade = _fade(region.height, TAPER * region.height, phi)[:, None] * _fade(region.width, TAPER * region.width, phi)[None, :]
    out = phi.new_zeros(phi.shape[0], 2, image_height, image_width)
    out[:, :, region.y:region.y + region.height, region.x:region.x + region.width] = inside * scale * fade
    return out
