"""Which torch device a run uses: ``--device auto`` is CUDA when available."""
from __future__ import annotations

import torch

from .errors import OptionError


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' is CUDA when available, else CPU; 'cuda' without CUDA is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise OptionError("--device cuda: CUDA is not available on this machine (use auto or cpu)")
    if device not in ("cpu", "cuda"):
        raise OptionError(f"unknown --device {device!r}; choose auto, cpu or cuda")
    return torch.device(device)
