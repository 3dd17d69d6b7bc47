"""``unet``: the paper's velocity, a small U-Net on the image and the current field."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..solvers.base import config_int
from .base import Velocity
from ..warp import check_field, check_image, sample

MAX_IN_CHANNELS = 16
MAX_WIDTH = 256
MAX_DEPTH = 5
MAX_PARAMETERS = 20_000_000  # 80 MB of float32; the shipped models have ~120,000


def _block_parameters(cin, cout):
    return (cin * 9 + 1) * cout + (cout * 9 + 1) * cout + 4 * cout  # two convs, two GroupNorms


def parameter_count(in_channels: int, width: int, depth: int) -> int:
    """How many parameters UNetVelocity(in_channels, width, depth) has, without building it."""
    chans = [width * 2**k for k in range(depth + 1)]
    count = _block_parameters(in_channels, chans[0]) + (chans[0] * 9 + 1) * 2
    for k in range(depth):
        count += _block_parameters(chans[k], chans[k + 1]) + _block_parameters(chans[k + 1] + chans[k], chans[k])
    return count


def _block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU(),
    )


class UNetVelocity(Velocity):
    """The paper's velocity: a U-Net on the image under the current field.

    dPhi/dt = u + (dPhi/dp) u with u = UNet(x0 o (id + Phi)): u is the velocity of the
    *current frame* (Eulerian), so each step is Phi_{t+dt} = Phi_t o (id + u dt). Because u
    depends on the current frame alone, the motion is autonomous in image space: from the
    last frame, integrating to negative t retraces the way back (``reverse``).

    Args:
        in_channels: image channels C of x0 (1 grayscale, 3 RGB, 4 RGBA).
        width: channels of the first level, doubled at each level down.
        depth: number of down-sampling steps.
    The output layer starts at zero, so an untrained network is the identity warp.
    """

    name = "unet"
    stationary = False
    eulerian = True  # forward(..., frame_only=True) gives u itself: the ``compose`` solver steps with it

    def __init__(self, in_channels: int = 3, width: int = 16, depth: int = 2):
        super().__init__()
        # checked before any layer is allocated: a file may ask for width 20000
        in_channels = config_int("in_channels", in_channels, 1, MAX_IN_CHANNELS)
        width = config_int("width", width, 1, MAX_WIDTH)
        depth = config_int("depth", depth, 1, MAX_DEPTH)
        chans = [width * 2**k for k in range(depth + 1)]
        if any(c % min(8, c) for c in chans):  # GroupNorm(min(8, c)) needs whole groups
            raise ValueError(f"width {width}: each level's channels (width x 2^k) must be under 8 or a multiple of 8")
        count = parameter_count(in_channels, width, depth)
        if count > MAX_PARAMETERS:
            raise ValueError(f"width {width}, depth {depth} make {count:,} parameters, over the limit of {MAX_PARAMETERS:,}")
        self._config = {"in_channels": in_channels, "width": width, "depth": depth}
        self.inp = _block(in_channels, chans[0])
        self.down = nn.ModuleList([_block(chans[k], chans[k + 1]) for k in range(depth)])
        self.up = nn.ModuleList([_block(chans[k + 1] + chans[k], chans[k]) for k in reversed(range(depth))])
        self.out = nn.Conv2d(chans[0], 2, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @classmethod
    def configure(cls, config, *, channels=None, **_):
        """It sees the image: ``in_channels`` is the image's channel count."""
        config = dict(config)
        if channels is not None:
            config.setdefault("in_channels", int(channels))
        return config

    def config(self) -> dict:
        return dict(self._config)

    def cost_per_pixel(self) -> float:
        """Multiply-adds per field pixel: each level's convolutions at its share of the pixels."""
        cost = 0.0
        for scale, module in [(1, self.inp), (1, self.out)] + [(4 ** (k + 1), b) for k, b in enumerate(self.down)] + \
                [(4 ** k, b) for k, b in zip(reversed(range(len(self.up))), self.up)]:
            cost += sum(p.numel() for p in module.parameters()) / scale
        return cost

    def frame_velocity(self, frame: torch.Tensor) -> torch.Tensor:
        """u (B, 2, H, W), normalised units per unit time, for frames (B, C, H, W)."""
        x = self.inp(frame)
        skips = [x]
        for block in self.down:
            x = block(F.avg_pool2d(x, 2, ceil_mode=True))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.out(x)

    def forward(self, t, phi, x0, frame_only: bool = False):
        """dPhi/dt (B, 2, h, w); with ``frame_only`` the frame's velocity u alone.

        (A keyword of forward, not a separate method, so that DistributedDataParallel sees it.)
        """
        check_field(phi)
        check_image(x0, "x0")
        if x0.shape[1] != self._config["in_channels"]:
            raise ValueError(f"unet expects {self._config['in_channels']} image channels, got {x0.shape[1]}")
        frame = sample(x0, phi)  # x0 o (id + phi) at phi's resolution
        u = self.frame_velocity(frame)
        if frame_only:
            return u
        return u + _directional_derivative(phi, u)


def _directional_derivative(phi: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """(dphi/dp) u per pixel, central differences, all in normalised units."""
    h, w = phi.shape[-2:]
    padded = F.pad(phi, (1, 1, 1, 1), mode="replicate")
    d_dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) * ((w - 1) / 4.0)  # / (2 * 2/(w-1))
    d_dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) * ((h - 1) / 4.0)
    return d_dx * u[:, 0:1] + d_dy * u[:, 1:2]
