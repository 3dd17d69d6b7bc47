"""Penalties on the displacement field (normalised units, see ``img2gif.warp``); registered in
their own entry-point group, ``img2gif.penalties`` (a penalty is not a data loss: --loss refuses
them)."""
from __future__ import annotations

import torch

from ..warp import check_field, identity_grid, jacobian_determinant, to_pixels


def _as_batches(phi: torch.Tensor) -> list[torch.Tensor]:
    if isinstance(phi, torch.Tensor) and phi.dim() == 5:
        return list(phi.unbind(0))
    check_field(phi)
    return [phi]


def jacobian(phi: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Mean of relu(margin - det d(id+phi)/dp): penalises folding, summed over times."""
    return sum(torch.relu(margin - jacobian_determinant(p)).mean() for p in _as_batches(phi))


def outgrid(phi: torch.Tensor) -> torch.Tensor:
    """Mean squared distance by which id + phi leaves [-1, 1]^2, summed over times."""
    total = 0.0
    for p in _as_batches(phi):
        pos = identity_grid(p.shape[2], p.shape[3], device=p.device, dtype=p.dtype) + p
        total = total + (torch.relu(pos.abs() - 1.0) ** 2).mean()
    return total


def smoothness(phi: torch.Tensor) -> torch.Tensor:
    """Mean squared forward difference of phi in pixel units (sum over times)."""
    total = 0.0
    for p in _as_batches(phi):
        u = to_pixels(p)
        total = total + ((u[..., :, 1:] - u[..., :, :-1]) ** 2).mean() + ((u[..., 1:, :] - u[..., :-1, :]) ** 2).mean()
    return total


def displacement(phi: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of weight(p) * |phi(p)|^2 in pixel units, summed over times: "move only what must move".

    ``weight`` (H, W), (1, 1, H, W) or (B, 1, H, W), >= 0, says where motion costs (1: keep
    still, 0: free); it is resized to phi's grid if it differs. None weighs every pixel 1.
    """
    total = 0.0
    for p in _as_batches(phi):
        squared = (to_pixels(p) ** 2).sum(1, keepdim=True)  # (B, 1, h, w) px^2
        if weight is not None:
            squared = squared * _weight_map(weight, p)
        total = total + squared.mean()
    return total


def _weight_map(weight: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if weight.dim() == 2:
        weight = weight[None, None]
    if weight.dim() != 4 or weight.shape[1] != 1 or weight.shape[0] not in (1, like.shape[0]):
        raise ValueError(f"weight must be (H, W), (1, 1, H, W) or (B, 1, H, W) for B = {like.shape[0]}, got {tuple(weight.shape)}")
    weight = weight.to(device=like.device, dtype=like.dtype)
    if weight.shape[-2:] != like.shape[-2:]:
        weight = torch.nn.functional.interpolate(weight, size=like.shape[-2:], mode="bilinear", align_corners=True)
    return weight
