"""``pair-unet``: a velocity that sees both images, V(Phi_t, A, B, t), for a learned motion prior.

The paper's velocity sees x0 alone, which is right for a model of one kind of change (a
smile). Between two given frames the motion is in neither image alone: this U-Net sees the
current frame A o (id + Phi_t), the target B and the time t, and gives the current frame's
velocity u (Eulerian, stepped by the ``compose`` solver). It is trained on generated scenes
with known motion (``img2gif.prior``, ``img2gif train --prior``) and starts a pair fit; it is
not for ``fit-pair`` or ``train``, which give a velocity one image.

The "image" the solver passes is A and B stacked on the channels: (N, 2C, H, W).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..solvers.base import config_int
from ..warp import check_field, check_image, sample
from .unet import UNetVelocity, _directional_derivative


class PairUNetVelocity(UNetVelocity):
    """u = UNet(A o (id + Phi_t), B, t): the velocity that carries the current frame on to B.

    Args:
        image_channels: C of each image (the input is A and B stacked: 2C channels).
        width, depth: as ``unet``.
    The output layer starts at zero: untrained, it is the identity warp.
    """

    name = "pair-unet"
    sees_pair = True  # fit-pair and train, which give one image, refuse it

    def __init__(self, image_channels: int = 3, width: int = 16, depth: int = 3):
        image_channels = config_int("image_channels", image_channels, 1, 4)
        super().__init__(in_channels=2 * image_channels + 1, width=width, depth=depth)  # + a t plane
        self._config = {"image_channels": image_channels, "width": self._config["width"], "depth": self._config["depth"]}

    @classmethod
    def configure(cls, config, **_):
        return dict(config)  # the channels hint counts A and B together; the config says C

    def forward(self, t, phi, x0, frame_only: bool = False):
        """The current frame's velocity u (B, 2, h, w); x0 is A and B stacked, (N, 2C, H, W)."""
        check_field(phi)
        check_image(x0, "x0")
        c = self._config["image_channels"]
        if x0.shape[1] != 2 * c:
            raise ValueError(f"pair-unet expects A and B stacked ({2 * c} channels), got {x0.shape[1]}: it is a prior for a "
                             f"pair, not a velocity for fit-pair or train")
        a, b = x0[:, :c], x0[:, c:]
        frame = sample(a, phi)
        if b.shape[-2:] != phi.shape[-2:]:
            b = F.interpolate(b, size=phi.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
        time = frame.new_full((frame.shape[0], 1, *frame.shape[-2:]), 0.0 if t is None else float(t))
        u = self.frame_velocity(torch.cat([frame, b, time], dim=1))
        return u if frame_only else u + _directional_derivative(phi, u)
