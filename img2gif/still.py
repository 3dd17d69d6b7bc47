"""Still overlays: pixels that are the same in A and B while the scene behind them moves.

A caption, logo, HUD or timestamp burned into footage does not move when the camera pans.
A warp is one smooth map of the whole frame, so it drags such an overlay along with the
scene around it, and the overlay's own pixels (which say "no motion here") pull the scene's
motion towards zero. ``still_mask`` finds them after a first fit: the fit is then done again
with them left out of its data term (so they do not bend the motion around them), and the
renderer puts them back unwarped, from A, with a soft edge (so they stay sharp).

What counts as still (thresholds chosen on ``img2gif.scenes`` with burned-in captions,
seeds 0-5 of the still-overlay bench, BENCHMARKS.md "What interpolation users ask for"; checked on seeds
100-105; never on the benchmark sets):

* A and B differ by at most ``NOISE`` (mean over the channels): within sensor and
  compression noise (a closing fills the odd pixel that noise pushes over);
* the fitted warp drags it: around the pixel, A and B carried to the middle of the gap
  disagree by ``DRAG`` more than A and B as they are (where an object rightly passes over
  a pixel between the two images, the two sides agree on it), and a slowly moving texture
  that differs little is explained better by the warp than by no motion;
* it holds edges (``TEXTURE``): a region starts only from 5x5 blocks that are all still and
  textured, and grows from them through still pixels only (a letter's flat fill). A flat
  area (sky) that moves never starts one: keeping it still or warping it looks the same;
* it starts inside the action-safe area (``SAFE``, where broadcast overlays sit): at the
  frame's border the warp samples beyond A, and its two sides disagree whatever the scene;
* thin lines and specks are dropped (an opening).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .warp import resize_field, sample

MODES = ("auto", "off")   # --keep-still: auto finds still overlays; off warps every pixel (the old behaviour)
NOISE = 0.03              # mean |A - B| over the channels, in [0, 1] units: ~8 levels of 255
TEXTURE = 0.2             # mean |gradient| of A over 5x5, [0, 1] units per pixel: a caption's edges, not a faint star field
DRAG = 0.03               # how much worse (mean |A o phi_0.5 - B o phi_-0.5|, 5x5) the warp does than no motion
GROW = 32                 # pixels a still region grows from its textured seeds (two per step)
SAFE = 0.05               # share of each side at the frame's border where no region starts (broadcast
                          # overlays sit inside the action-safe area, 5 % in from each edge)
SMALLEST = 0.0005         # a mask below this share of the frame is dropped: specks, not overlays


def _box(x: torch.Tensor, size: int) -> torch.Tensor:
    """Mean over a size x size window, (B, 1, H, W) -> (B, 1, H, W) (edges replicated)."""
    pad = size // 2
    return F.avg_pool2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), size, stride=1)


def _dilate(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Max over a (2r+1) square, (B, 1, H, W) float 0/1 -> same."""
    return F.max_pool2d(x, 2 * radius + 1, stride=1, padding=radius) if radius > 0 else x


def _erode(x: torch.Tensor, radius: int) -> torch.Tensor:
    return -_dilate(-x, radius) if radius > 0 else x


def still_mask(a: torch.Tensor, b: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Where A and B are the same although the fitted warp moves what is there: (1, 1, H, W)
    float, 1 = still.

    a, b: (1, C, H, W) images in [0, 1] of one size; phi: (2, 2, h, w) the fit's Phi_0.5 and
    Phi_-0.5 at any size (A and B carried to the middle of the gap). Hard 0/1 values;
    ``soft_edge`` and ``fit_weight`` make what the renderer and the fit use.
    """
    with torch.no_grad():
        unmoved = (a - b).abs().mean(1, keepdim=True)                 # (1, 1, H, W)
        phi = resize_field(phi.to(a), *a.shape[-2:])
        # A and B carried to the middle disagree where the warp drags something that stays
        # put (each side drags it its own way); they agree where it is right that something
        # passes over a pixel between the two images (background at both ends, an object
        # in the middle: no overlay, though A and B are the same there)
        moved = (sample(a, phi[0:1]) - sample(b, phi[1:2])).abs().mean(1, keepdim=True)
        still = (unmoved <= NOISE).float()
        still = _erode(_dilate(still, 1), 1)  # a closing: fills a pixel that noise pushed over
        still = _dilate(_erode(still, 1), 1)  # an opening: no single pixels or 1-2 pixel lines
        # the warp drags it: over a 5x5 block, leaving the pixels where they are explains the
        # pair clearly better than the fitted motion (only textured content can show this)
        dragged = (_box(moved, 5) - _box(unmoved, 5) >= DRAG).float()
        # ... and it holds edges of its own: not a flat patch (the black between the stars of
        # a panning sky is the same in A and B, and a poor fit of the stars disagrees there)
        gray = a.mean(1, keepdim=True)
        gx = F.pad((gray[..., :, 1:] - gray[..., :, :-1]).abs(), (0, 1, 0, 0))
        gy = F.pad((gray[..., 1:, :] - gray[..., :-1, :]).abs(), (0, 0, 0, 1))
        textured = (_box(gx + gy, 5) >= TEXTURE).float()
        seeds = _erode(still, 2) * dragged * textured
        # ... and inside the frame's action-safe area: at the border the warp samples beyond A
        # (replicated edge pixels), so its two sides disagree there whatever the scene
        h, w = seeds.shape[-2:]
        my, mx = round(SAFE * h), round(SAFE * w)
        seeds[..., :my, :], seeds[..., h - my:, :], seeds[..., :, :mx], seeds[..., :, w - mx:] = 0, 0, 0, 0
        if not bool(seeds.any()):  # most pairs: nothing to grow
            return torch.zeros_like(seeds)
        region = seeds
        for _ in range(GROW // 2):  # grow the seeds within the still pixels (a letter's flat fill)
            region = _dilate(region, 2) * still
        if float(region.mean()) < SMALLEST:
            region = torch.zeros_like(region)
        return region


def soft_edge(mask: torch.Tensor) -> torch.Tensor:
    """The weight of the unwarped pixels in a rendered frame, (1, 1, H, W) -> same, in [0, 1]:
    the mask one pixel wider (the anti-aliased rim of a letter differs between A and B, as the
    scene behind shows through, yet belongs to it), blurred over 3x3 so the rim fades out."""
    return _box(_dilate(mask, 1), 3)


def fit_weight(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The data term's weight at a pyramid level of (h, w) ``size``: (1, 1, h, w), 0 on still
    pixels and three pixels around them (where a warped letter's rim would land), 1 elsewhere."""
    wide = _dilate(mask, 3)
    if tuple(wide.shape[-2:]) != tuple(size):
        wide = F.adaptive_max_pool2d(wide, size) if wide.shape[-1] >= size[1] else F.interpolate(wide, size=size, mode="nearest")
    return 1.0 - wide


def composite(frames: torch.Tensor, still: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """frames (K, C, rows, W) with the unwarped ``still`` (K or 1, C, rows, W) laid over them by
    ``weight`` (1, 1, rows, W); in place on ``frames``."""
    return frames.mul_(1 - weight).add_(still * weight)
