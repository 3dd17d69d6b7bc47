"""``blocks``: coarse-to-fine block matching per pixel (``img2gif.correspondence``).

Refines the start (a global shift, a model's warp) where a part of the frame moves on its
own; still overlays take the motion around them, so that their zero does not start the
scene behind them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..correspondence import match_blocks
from ..still import fit_weight


class BlockMatching:
    """One dense proposal: ``match_blocks(a, b, start)``; its keyword arguments (radius, patch,
    min_side, finest, stay_weight) are this class's."""

    def __init__(self, **options):
        self.options = options

    def propose(self, a, b, *, start=None, still=None):
        field = match_blocks(a, b, None if start is None else start[:1], **self.options)
        if still is not None:
            field = fill_from_around(field, fit_weight(still.to(a), field.shape[-2:]))
        return field


def fill_from_around(field: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """field (1, 2, h, w) with its values where ``keep`` (1, 1, h, w) is 0 (still overlays,
    matched as not moving) replaced by a wide average of the kept values around them: the
    overlay's own zero must not start the motion of the scene behind it."""
    side = max(3, (min(field.shape[-2:]) // 4) | 1)
    pool = lambda x: F.avg_pool2d(x, side, stride=1, padding=side // 2, count_include_pad=False)  # noqa: E731
    around = pool(field * keep) / pool(keep).clamp_min(1e-6)
    return torch.where(keep > 0.5, field, around)
