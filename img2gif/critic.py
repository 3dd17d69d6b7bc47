"""The Wasserstein critic for unpaired training, and its gradient penalty (WGAN-GP)."""
from __future__ import annotations

import torch
from torch import nn


class Critic(nn.Module):
    """Scores images (B, C, S, S) -> (B,): higher means 'looks like the end domain'.

    No batch norm: the gradient penalty needs per-sample gradients.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, size: int = 32):
        super().__init__()
        self._config = {"in_channels": int(in_channels), "width": int(width), "size": int(size)}
        layers, c, s = [], in_channels, size
        out = width
        while s > 4:
            layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c, out, s = out, min(out * 2, 256), s // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * s * s, 1)

    def config(self) -> dict:
        return dict(self._config)

    def forward(self, x):
        return self.head(self.features(x).flatten(1)).squeeze(1)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(|grad D(x_mix)| - 1)^2] on random mixes of real and fake (B, C, H, W)."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
