"""WarpODE: a velocity and a solver together give Phi_t at any requested times."""
from __future__ import annotations

import torch
from torch import nn

from .errors import OptionError
from .warp import check_image


class IncompatibleBackends(OptionError, ValueError):
    """A solver that cannot integrate the chosen velocity (a ValueError, and a user error)."""


class WarpODE(nn.Module):
    """dPhi/dt = velocity(t, Phi, x0), Phi_0 = 0, integrated by ``solver``.

    The pipeline asks for times; the solver decides how to get there. Negative times
    integrate backwards (the inverse direction of the animation).
    """

    def __init__(self, velocity: nn.Module, solver):
        super().__init__()
        inner = getattr(velocity, "module", velocity)  # DistributedDataParallel wraps the velocity
        if getattr(solver, "needs_stationary", False) and not getattr(inner, "stationary", False):
            raise IncompatibleBackends(
                f"solver {solver.name!r} needs a stationary velocity, but {inner.name!r} is time-dependent; "
                "choose euler, midpoint, rk4, dopri5 or compose"
            )
        if getattr(solver, "needs_eulerian", False) and not getattr(inner, "eulerian", False):
            raise IncompatibleBackends(
                f"solver {solver.name!r} needs an Eulerian velocity (such as unet), not {inner.name!r}; "
                "choose euler, midpoint, rk4, dopri5 or scaling-squaring"
            )
        self.velocity = velocity
        self.solver = solver

    def fields(self, x0: torch.Tensor, times, field_size: tuple[int, int]) -> torch.Tensor:
        """(T, B, 2, h, w) displacement fields for x0 (B, C, H, W) at ``times`` (T,)."""
        check_image(x0, "x0")
        return self.solver.integrate(self.velocity, x0, times, tuple(field_size))
