"""A model applied to one box of a larger image (``--crop``): a face in a portrait.

A model is trained on crops framed one way (the smile model: a square face, the mouth 80 %
of the way down). Given a whole photo it squeezes the photo into its square and moves
whatever sits where the mouth and cheeks would be: the jaw bulges, the background bends.
With a region the model sees the box alone, at its own size; its field is stretched back
over the box unchanged (the face moves exactly as the model moves a face crop), continued
beyond the box's edges and faded to zero over a margin there (three pixels per pixel the edge
moves: steep enough to stay close, gentle enough never to fold), and is zero beyond: the rest
of the photo is left exactly as it was.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError, OptionError

SMALLEST = 8          # pixels on each side: the smallest size a model is trained at
FADE_PER_PIXEL = 3.0  # pixels of margin per pixel the box's edge moves: the fade's slope times the
                      # displacement stays at 0.5 (smoothstep's steepest, 1.5 / margin), far from a fold
MIN_MARGIN = 2        # pixels: a box whose edge does not move still fades over this


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


def fade_margins(phi: torch.Tensor, region: Region) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): the pixels beyond each side of the box over which its field
    fades to zero, for the model's fields ``phi`` (T, 2, s, s) in the box's normalised units
    (the largest movement of that side over all T, FADE_PER_PIXEL times, at least MIN_MARGIN).
    Made once for all the frames of an animation, so the margin does not change from frame to frame."""
    if phi.dim() != 4 or phi.shape[1] != 2:
        raise ValueError(f"phi must be (T, 2, h, w), got {tuple(phi.shape)}")
    to_pixels = phi.new_tensor([(region.width - 1) / 2, (region.height - 1) / 2]).view(1, 2, 1, 1)
    moved = (phi * to_pixels).norm(dim=1)  # (T, s, s) pixels of the image
    sides = (moved[:, 0, :], moved[:, -1, :], moved[:, :, 0], moved[:, :, -1])
    return tuple(max(MIN_MARGIN, math.ceil(FADE_PER_PIXEL * float(side.max()))) for side in sides)


def _ramp(margin: int, like: torch.Tensor) -> torch.Tensor:
    """(margin,) weights of the pixels 1 ... margin beyond a box's edge, nearest last: a
    smoothstep falling from 1 at the edge to 0 at margin + 1 (the first pixel left alone)."""
    u = 1 - torch.arange(margin, 0, -1, device=like.device, dtype=like.dtype) / (margin + 1)
    return u * u * (3 - 2 * u)


def paste_field(phi: torch.Tensor, region: Region, image_height: int, image_width: int,
                margins: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """A model's fields for the box, made the whole image's: (T, 2, s, s) -> (T, 2, H, W).

    ``phi`` is in the box's normalised coordinates (align_corners=True, as ``warp.sample``);
    the result is in the image's: upsampled bilinearly over the box, its edges continued over
    ``margins`` (``fade_margins(phi, region)`` if None) beyond the box with a smoothstep down to
    zero, and zero beyond.
    """
    if phi.dim() != 4 or phi.shape[1] != 2:
        raise ValueError(f"phi must be (T, 2, h, w), got {tuple(phi.shape)}")
    region.check_inside(image_width, image_height, "the image")
    top, bottom, left, right = fade_margins(phi, region) if margins is None else margins
    inside = F.interpolate(phi, size=(region.height, region.width), mode="bilinear", align_corners=True)
    # a displacement of d box-widths is d * (box - 1) / (image - 1) image-widths
    scale = phi.new_tensor([(region.width - 1) / max(image_width - 1, 1),
                            (region.height - 1) / max(image_height - 1, 1)]).view(1, 2, 1, 1)
    padded = F.pad(inside * scale, (left, right, top, bottom), mode="replicate")
    ones = lambda n: phi.new_ones(n)  # noqa: E731
    fade_y = torch.cat([_ramp(top, phi), ones(region.height), _ramp(bottom, phi).flip(0)])
    fade_x = torch.cat([_ramp(left, phi), ones(region.width), _ramp(right, phi).flip(0)])
    padded = padded * fade_y[:, None] * fade_x[None, :]
    out = phi.new_zeros(phi.shape[0], 2, image_height, image_width)
    y0, x0 = region.y - top, region.x - left  # the padded box's corner, maybe beyond the image
    ys = slice(max(0, y0), min(image_height, region.y + region.height + bottom))
    xs = slice(max(0, x0), min(image_width, region.x + region.width + right))
    out[:, :, ys, xs] = padded[:, :, ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    return out
