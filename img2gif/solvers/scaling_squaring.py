"""Scaling and squaring: exp(t v) for a stationary velocity v, in a few compositions.

exp(t v) = exp(t v / 2^N) o ... (2^N times); exp of a small field is close to
id + t v / 2^N, and N squarings compose it with itself. Far cheaper than stepping an
ODE. The requested times run as one batch; a time that is twice another requested time is
that time's field composed with itself (one squaring more), not a chain of its own.
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
        b = v.shape[0]
        # exp(2t v) = exp(t v) o exp(t v): a time twice another requested one is that one's field
        # squared once more, not a chain of its own (a fit asks for +-0.5 and +-1: 7 squarings, not 12)
        values = times.tolist()
        depth = {}
        for value in sorted(set(values), key=abs):
            depth[value] = depth[value / 2] + 1 if value != 0 and value / 2 in depth else 0
        roots = [value for value in depth if depth[value] == 0]
        root_t = times.new_tensor(roots)
        phi = (root_t.view(-1, 1, 1, 1, 1) * v.unsqueeze(0)).reshape(len(roots) * b, 2, *field_size)
        phi = phi / (2 ** self.options["steps"])
        for _ in range(self.options["steps"]):
            phi = compose(phi, phi)
        found = dict(zip(roots, phi.view(len(roots), b, 2, *field_size)))
        for level in range(1, max(depth.values()) + 1):
            here = [value for value in depth if depth[value] == level]
            halves = torch.cat([found[value / 2] for value in here])
            for value, field in zip(here, compose(halves, halves).view(len(here), b, 2, *field_size)):
                found[value] = field
        return torch.stack([found[value] for value in values])
