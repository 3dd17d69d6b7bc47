"""Scaling and squaring: exp(t v) for a stationary velocity v, in a few compositions.

exp(t v) = exp(t v / 2^N) o ... (2^N times); exp of a small field is close to
id + t v / 2^N, and N squarings compose it with itself. Far cheaper than stepping an
ODE, and every time is computed independently, so all requested times run as one batch.
"""
from __future__ import annotations

import torch

from ..warp import compose, resize_field
from .base import Solver, check_times, config_int

MAX_SQUARINGS = 16  # 2^16 halvings: far past float32's resolution already


class ScalingSquaring(Solver):
    name = "scaling-squaring"
    needs_stationary = True

    def __init__(self, steps: int = 6):
        super().__init__(steps=config_int("steps", steps, 0, MAX_SQUARINGS))

    def integrate(self, velocity, x0, times, field_size):
        if not getattr(velocity, "stationary", False):
            raise ValueError(
                f"solver 'scaling-squaring' needs a stationary velocity; "
                f"{getattr(velocity, 'name', type(velocity).__name__)!r} is time-dependent"
            )
        times = check_times(times).to(device=x0.device, dtype=x0.dtype)
        v = resize_field(velocity.field(x0), *field_size)  # (B, 2, h, w)
        t, b = times.numel(), v.shape[0]
        phi = (times.view(t, 1, 1, 1, 1) * v.unsqueeze(0)).reshape(t * b, 2, *field_size)
        phi = phi / (2 ** self.options["steps"])
        for _ in range(self.options["steps"]):
            phi = compose(phi, phi)
        return phi.view(t, b, 2, *field_size)
