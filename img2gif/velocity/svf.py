"""``svf``: a stationary velocity grid, multi-resolution; the fast choice for one pair."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..solvers.base import config_int
from .base import Velocity
from ..warp import check_field, sample

MAX_GRID_SIDE = 4096  # the finest grid is coarser than the working image (--working-size <= 2048)
MAX_LEVELS = 8


class SVF(Velocity):
    """v = sum of ``levels`` zero-initialised grids, each twice the size of the last.

    Args:
        size: (h, w) of the finest grid (coarser than the image: smooth and fast).
        levels: number of grids; the coarsest is about size / 2^(levels-1).
    Coarse-to-fine fitting sets ``active_levels``; grids beyond it do not contribute.
    """

    name = "svf"
    stationary = True

    @classmethod
    def configure(cls, config, *, field_shape=None, pyramid_levels=None, cell: int = 4, **_):
        """The finest grid has one cell per ``cell`` field pixels; a fit over P pyramid levels
        gets P + 2 grids (coarse enough to move the whole frame at its coarsest level)."""
        config = dict(config)
        if field_shape is not None:
            cell = max(1, int(cell))
            config.setdefault("size", [max(2, math.ceil(field_shape[0] / cell)), max(2, math.ceil(field_shape[1] / cell))])
        if pyramid_levels is not None:
            config.setdefault("levels", int(pyramid_levels) + 2)
        return config

    @property
    def levels(self) -> int:
        return self._levels

    def __init__(self, size=(32, 32), levels: int = 4):
        super().__init__()
        # checked before the grids are allocated: a file may ask for 30000 x 30000
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise ValueError(f"size must be [height, width], got {size!r}")
        h, w = (config_int(f"size[{i}]", side, 1, MAX_GRID_SIDE) for i, side in enumerate(size))
        self._size = (h, w)
        self._levels = config_int("levels", levels, 1, MAX_LEVELS)
        shapes = []
        for k in reversed(range(self._levels)):
            shapes.append((max(1, -(-h // 2**k)), max(1, -(-w // 2**k))))
        self.grids = nn.ParameterList([nn.Parameter(torch.zeros(1, 2, gh, gw)) for gh, gw in shapes])
        self.active_levels = self._levels

    def config(self) -> dict:
        return {"size": list(self._size), "levels": self._levels}

    def cost_per_pixel(self) -> float:
        """A bilinear lookup per level: a few multiply-adds, whatever the grid's size."""
        return 8.0 * self._levels

    def field(self, x0: torch.Tensor | None = None) -> torch.Tensor:
        """The velocity grid (1, 2, h, w) in normalised units per unit time."""
        v = None
        for grid in list(self.grids)[: self.active_levels]:
            up = grid if grid.shape[-2:] == self._size else F.interpolate(grid, size=self._size, mode="bilinear", align_corners=True)
            v = up if v is None else v + up
        return v

    def set_translation(self, dx: float, dy: float) -> None:
        """Start from a pure translation (normalised units): the coarsest grid holds it."""
        with torch.no_grad():
            for g in self.grids:
                g.zero_()
            self.grids[0][:, 0] = dx
            self.grids[0][:, 1] = dy

    def set_field(self, v: torch.Tensor, level: int) -> None:
        """Start from velocity ``v`` (1, 2, h, w), held by grid ``level`` (0 = coarsest)."""
        check_field(v, "v")
        with torch.no_grad():
            for g in self.grids:
                g.zero_()
            grid = self.grids[level]
            grid.copy_(F.interpolate(v.to(grid), size=grid.shape[-2:], mode="bilinear", align_corners=True))

    def stack(self, velocities) -> "SVF":
        """One SVF whose batch element i is ``velocities[i]`` (SVFs of this config): its field
        is (N, 2, h, w), and a fit of N pairs runs as one batch."""
        stacked = SVF(self._size, self._levels)
        for k in range(len(stacked.grids)):
            stacked.grids[k] = nn.Parameter(torch.cat([v.grids[k].detach() for v in velocities]))
        stacked.active_levels = self.active_levels
        return stacked

    def unstack_into(self, velocities) -> None:
        """Copy batch element i back into ``velocities[i]``."""
        with torch.no_grad():
            for i, velocity in enumerate(velocities):
                for mine, theirs in zip(self.grids, velocity.grids):
                    theirs.copy_(mine[i:i + 1])

    def forward(self, t, phi, x0=None):
        check_field(phi)
        return sample(self.field(x0), phi)
