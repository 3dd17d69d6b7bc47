"""Soft census loss for img2gif (entry point ``img2gif.losses: census``).

census(pred, target): both (B, C, H, W) in [0, 1]; returns a scalar. Each pixel is
described by the signed, soft-normalised differences to its neighbours in a
``window``x``window`` patch; the loss is a robust distance between those descriptors.
An offset or gain in brightness leaves the descriptor (almost) unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["census", "census_descriptor"]


def census_descriptor(x: torch.Tensor, window: int = 5) -> torch.Tensor:
    """(B, C, H, W) -> (B, window*window, H, W) soft census of the luma."""
    if x.dim() != 4:
        raise ValueError(f"census expects (B, C, H, W), got {tuple(x.shape)}")
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be odd and >= 3, got {window}")
    gray = x.mean(1, keepdim=True) * 255.0
    pad = window // 2
    patches = F.unfold(F.pad(gray, (pad, pad, pad, pad), mode="replicate"), window)
    patches = patches.view(x.shape[0], window * window, *x.shape[-2:])
    diff = patches - gray
    return diff / torch.sqrt(0.81 + diff * diff)


def census(pred: torch.Tensor, target: torch.Tensor, window: int = 5) -> torch.Tensor:
    """Mean soft Hamming distance between the census descriptors of pred and target."""
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    d = census_descriptor(pred, window) - census_descriptor(target, window)
    return (d * d / (0.1 + d * d)).mean()
