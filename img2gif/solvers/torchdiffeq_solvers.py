"""torchdiffeq's solvers: euler, midpoint, rk4 (fixed step) and dopri5 (adaptive)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from ..errors import WorkLimitError
from .base import MAX_TOLERANCE, MIN_STEP_SIZE, MIN_TOLERANCE, Solver, check_times, config_bool, config_float


#: An adaptive solver (dopri5) may take up to this many steps per ``step_size`` of time, rejected
#: steps included: room to adapt, and a bound on its work (``img2gif.work``).
ADAPTIVE_STEPS_PER_STEP_SIZE = 4


class _ODEFunc(nn.Module):
    """Binds x0 so torchdiffeq sees f(t, phi); a Module so the adjoint finds parameters.

    ``limit``: the most evaluations it may make (None: any). An adaptive solver chooses its own
    steps: without a limit, a velocity it cannot resolve to its tolerances runs for hours."""

    def __init__(self, velocity, x0, limit: int | None = None):
        super().__init__()
        self.velocity = velocity
        self.x0 = x0
        self.limit, self.evaluations = limit, 0

    def forward(self, t, phi):
        self.evaluations += 1
        if self.limit is not None and self.evaluations > self.limit:
            raise WorkLimitError(f"solver needed more than {self.limit} velocity evaluations (at most "
                                 f"{ADAPTIVE_STEPS_PER_STEP_SIZE} steps per step_size of time); raise its rtol/atol or step_size")
        return self.velocity(t, phi, self.x0)


class TorchdiffeqSolver(Solver):
    method = "euler"
    adaptive = False
    stages = 1  # velocity evaluations per step

    def evaluations_per_unit_time(self) -> float:
        """Fixed steps: exactly this. Adaptive: the most it may make (it stops beyond)."""
        steps = math.ceil(1.0 / self.options["step_size"])
        return self.stages * steps * (ADAPTIVE_STEPS_PER_STEP_SIZE if self.adaptive else 1)

    def __init__(self, step_size: float = 0.1, rtol: float = 1e-4, atol: float = 1e-5, adjoint: bool = False):
        super().__init__(
            step_size=config_float("step_size", step_size, MIN_STEP_SIZE),
            rtol=config_float("rtol", rtol, MIN_TOLERANCE, MAX_TOLERANCE),
            atol=config_float("atol", atol, MIN_TOLERANCE, MAX_TOLERANCE),
            adjoint=config_bool("adjoint", adjoint),
        )

    def _solve(self, func, phi0, times):
        opts = {}
        kwargs = {}
        if self.adaptive:
            kwargs = dict(rtol=self.options["rtol"], atol=self.options["atol"])
        else:
            opts = {"step_size": self.options["step_size"]}
        solve = odeint_adjoint if self.options["adjoint"] else odeint
        if self.options["adjoint"]:
            kwargs["adjoint_params"] = tuple(func.parameters())
        return solve(func, phi0, times, method=self.method, options=opts, **kwargs)

    def integrate(self, velocity, x0, times, field_size):
        times = check_times(times).to(device=x0.device, dtype=x0.dtype)
        b = x0.shape[0]
        phi0 = x0.new_zeros(b, 2, *field_size)
        span = float(times.abs().max()) if times.numel() else 0.0
        limit = None
        if self.adaptive:  # the adjoint's way back evaluates about as often again
            limit = (math.ceil(self.evaluations_per_unit_time() * max(span, 1.0)) + 2 * self.stages) * \
                (2 if self.options["adjoint"] else 1)
        func = _ODEFunc(velocity, x0, limit)
        out = x0.new_zeros(times.numel(), b, 2, *field_size)
        # torchdiffeq wants monotone times starting at 0: run t > 0 and t < 0 separately.
        for sign in (1.0, -1.0):
            mask = times * sign > 0
            if not mask.any():
                continue
            wanted = times[mask]
            uniq, inverse = torch.unique(wanted * sign, sorted=True, return_inverse=True)
            grid = torch.cat([uniq.new_zeros(1), uniq]) * sign
            traj = self._solve(func, phi0, grid)[1:]
            out[mask] = traj[inverse]
        return out


class Euler(TorchdiffeqSolver):
    name = method = "euler"


class Midpoint(TorchdiffeqSolver):
    name = method = "midpoint"
    stages = 2


class RK4(TorchdiffeqSolver):
    name = method = "rk4"
    stages = 4


class Dopri5(TorchdiffeqSolver):
    name = method = "dopri5"
    stages = 6
    adaptive = True
