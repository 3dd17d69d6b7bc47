"""Data terms: how far a warped image is from its target."""
from __future__ import annotations

import torch

from ..warp import check_image


def _check_pair(pred, target):
    check_image(pred, "pred")
    check_image(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")


def l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over (B, C, H, W)."""
    _check_pair(pred, target)
    return ((pred - target) ** 2).mean()


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean sqrt(d^2 + eps^2) - eps: L1-like, robust to outliers, smooth at 0."""
    _check_pair(pred, target)
    return (torch.sqrt((pred - target) ** 2 + eps * eps) - eps).mean()
