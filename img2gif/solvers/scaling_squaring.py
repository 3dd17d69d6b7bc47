"""Scaling and squaring: exp(t v) for a stationary velocity v, in a few compositions.

exp(t v) = exp(t v / 2^N) o ... (2^N times); exp of a small field is close to
id + t v / 2^N, and N squarings compose it with itself. Far cheaper than stepping an
ODE. The requested times run as one batch; a time that is half another requested time is read
off that time's chain (after one squaring fewer) instead of running a chain of its own.
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

    def evaluations_per_unit_time(self) -> float:
        return 1.0  # one look at the grid; the squarings are compositions, not evaluations

    def integrate(self, velocity, x0, times, field_size):
        if not getattr(velocity, "stationary", False):
            raise ValueError(
                f"solver 'scaling-squaring' needs a stationary velocity; "
                f"{getattr(velocity, 'name', type(velocity).__name__)!r} is time-dependent"
            )
        times = check_times(times).to(device=x0.device, dtype=x0.dtype)
        v = resize_field(velocity.field(x0), *field_size)  # (B, 2, h, w)
        b = v.shape[0]
        # exp(t v / 2^k) is the chain of exp(t v) after N - k of its N squarings: a requested time
        # that halves another requested one (a fit's +-0.5 beside +-1) is read off that chain
        # instead of running its own, and the largest time keeps the full N squarings
        n = self.options["steps"]
        values = times.tolist()
        wanted = set(values)
        root_of = {}
        for value in wanted:
            root, k = value, 0
            while value != 0 and root * 2 in wanted and k < n:
                root, k = root * 2, k + 1
            root_of[value] = (root, k)
        roots = sorted({root for root, _ in root_of.values()})
        index = {root: i for i, root in enumerate(roots)}
        phi = (times.new_tensor(roots).view(-1, 1, 1, 1, 1) * v.unsqueeze(0)).reshape(len(roots) * b, 2, *field_size)
        phi = phi / (2 ** n)
        found = {}
        for squarings in range(n + 1):
            if squarings:
                phi = compose(phi, phi)
            chains = phi.view(len(roots), b, 2, *field_size)
            for value, (root, k) in root_of.items():
                if n - k == squarings:
                    found[value] = chains[index[root]]
        return torch.stack([found[value] for value in values])
