"""Coarse-to-fine block matching: a dense starting field for a pair fit with large motion.

Why: the fit is a gradient descent on a smooth field; from a global shift it only finds motion
of a few pixels at its coarsest level, so a small object that moves far lands in the wrong
basin. Block matching searches a small window of displacements at every pixel of every level
of an image pyramid, so its reach grows with the pyramid, and a part of the frame that moves
on its own gets its own start. The fit then refines the field (and keeps it free of folds).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .warp import check_field, check_image, sample


def _features(x: torch.Tensor) -> torch.Tensor:
    """(1, 3, h, w): gray level and its x and y differences (the differences survive a
    brightness change)."""
    gray = x.mean(1, keepdim=True)
    gx = F.pad(gray[..., :, 1:] - gray[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(gray[..., 1:, :] - gray[..., :-1, :], (0, 0, 0, 1))
    return torch.cat([gray, 2 * gx, 2 * gy], 1)


def _median3(field: torch.Tensor) -> torch.Tensor:
    """3x3 median of each channel of (1, 2, h, w): removes single wrong matches."""
    h, w = field.shape[-2:]
    windows = F.unfold(F.pad(field, (1, 1, 1, 1), mode="replicate"), 3)  # (1, 2*9, h*w)
    return windows.view(1, 2, 9, h * w).median(2).values.view(1, 2, h, w)


def match_blocks(a: torch.Tensor, b: torch.Tensor, start: torch.Tensor | None = None, *,
                 radius: int = 2, patch: int = 5, min_side: int = 12, finest: int = 1,
                 stay_weight: float = 0.002) -> torch.Tensor:
    """A displacement ``phi`` with ``b(p) ~ a(p + phi(p))``, found by block matching.

    Args:
        a, b: (1, C, H, W) images in [0, 1] of one size.
        start: optional (1, 2, h, w) field (normalised units) the coarsest level searches
            around, for example a global shift; zero if None.
        radius: pixels searched each way at every level (reach: radius * (2^levels - 1)).
        patch: side of the square window whose mean feature difference is a match's cost.
        min_side: the coarsest level's shorter side is at least this.
        finest: the finest level searched is the image halved this many times.
        stay_weight: cost per pixel of moving away from the coarser level's field: in a
            flat region every displacement costs the same, and then nothing should move.
    Returns:
        (1, 2, H', W') field in normalised units, at the finest searched level's size
        (H' = H / 2^finest, rounded); upsample it with plain interpolation.
    """
    check_image(a, "a")
    check_image(b, "b")
    if a.shape != b.shape or a.shape[0] != 1:
        raise ValueError(f"a and b must both be (1, C, H, W) of one size, got {tuple(a.shape)} and {tuple(b.shape)}")
    if start is not None:
        check_field(start, "start")
    if radius < 1 or patch < 1 or patch % 2 == 0 or min_side < 4 or finest < 0:
        raise ValueError(f"need radius >= 1, an odd patch, min_side >= 4 and finest >= 0, got "
                         f"radius={radius}, patch={patch}, min_side={min_side}, finest={finest}")
    h, w = a.shape[-2:]
    sizes = []
    k = finest
    while True:
        size = (max(1, round(h / 2**k)), max(1, round(w / 2**k)))
        if sizes and min(size) < min_side:
            break
        sizes.append(size)
        if min(size) < 2 * min_side:
            break
        k += 1
    sizes.reverse()  # coarse -> fine
    fa_full, fb_full = _features(a), _features(b)
    field = start if start is not None else a.new_zeros(1, 2, *sizes[0])
    offsets = [(dx, dy) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    for size in sizes:
        fa = F.interpolate(fa_full, size=size, mode="area") if size != (h, w) else fa_full
        fb = F.interpolate(fb_full, size=size, mode="area") if size != (h, w) else fb_full
        field = F.interpolate(field, size=size, mode="bilinear", align_corners=True) if field.shape[-2:] != size else field
        sh, sw = size
        step = field.new_tensor([2.0 / max(sw - 1, 1), 2.0 / max(sh - 1, 1)]).view(1, 2, 1, 1)
        shifts = field.new_tensor(offsets).view(-1, 2, 1, 1) * step          # (K, 2, 1, 1)
        candidates = field + shifts                                           # (K, 2, sh, sw)
        warped = sample(fa, candidates)                                       # (K, 3, sh, sw)
        cost = (warped - fb).abs().sum(1, keepdim=True)
        cost = F.avg_pool2d(cost, patch, stride=1, padding=patch // 2, count_include_pad=False)
        moved = field.new_tensor([abs(dx) + abs(dy) for dx, dy in offsets]).view(-1, 1, 1, 1)
        cost = cost + stay_weight * moved
        best = cost.argmin(0, keepdim=True)                                   # (1, 1, sh, sw)
        field = candidates.gather(0, best.expand(1, 2, sh, sw))
        field = _median3(field)
    return field
