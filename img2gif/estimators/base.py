"""The estimator contract (see the package docstring) and the check every proposal passes."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from ..errors import PluginError


@runtime_checkable
class Estimator(Protocol):
    """Proposes starting displacements for a pair; see ``img2gif.estimators``."""

    def propose(self, a: torch.Tensor, b: torch.Tensor, *, start: torch.Tensor | None = None,
                still: torch.Tensor | None = None) -> torch.Tensor:
        ...


def check_proposal(field, name: str, like: torch.Tensor) -> torch.Tensor:
    """``field`` as a float (K, 2, h, w) tensor on ``like``'s device; PluginError naming the
    estimator ``name`` if it is not one (wrong type or shape, or a value not finite)."""
    if not isinstance(field, torch.Tensor):
        raise PluginError(f"estimator {name!r} returned {type(field).__name__}, not a tensor (K, 2, h, w)")
    if field.ndim != 4 or field.shape[0] < 1 or field.shape[1] != 2 or min(field.shape[-2:]) < 1:
        raise PluginError(f"estimator {name!r} returned a tensor of shape {tuple(field.shape)}, not (K, 2, h, w)")
    if not bool(torch.isfinite(field).all()):
        raise PluginError(f"estimator {name!r} returned a field with values that are not finite")
    return field.to(device=like.device, dtype=like.dtype)


def is_translation(field: torch.Tensor) -> bool:
    """Whether a proposal (K, 2, h, w) is one displacement per candidate (h = w = 1)."""
    return tuple(field.shape[-2:]) == (1, 1)
