"""WarpODE: a velocity and a solver together give Phi_t at any requested times.

A WarpODE describes itself (:meth:`WarpODE.record`: the velocity's and solver's names and
configs) and rebuilds from that record (:meth:`WarpODE.from_record`); fits, training, pair
files and model files all build their warp here, and nothing else names a backend.
"""
from __future__ import annotations

import torch
from torch import nn

from .errors import OptionError
from .solvers.base import check_times
from .velocity.base import unwrap
from .warp import check_image


class IncompatibleBackends(OptionError, ValueError):
    """A solver that cannot integrate the chosen velocity (a ValueError, and a user error)."""


class WarpODE(nn.Module):
    """dPhi/dt = velocity(t, Phi, x0), Phi_0 = 0, integrated by ``solver``.

    The pipeline asks for times; the solver decides how to get there. Negative times
    integrate backwards (the inverse direction of the animation). The velocity/solver
    pair is checked here, once; times are checked at every call of :meth:`fields`.
    """

    def __init__(self, velocity: nn.Module, solver):
        super().__init__()
        inner = unwrap(velocity)
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
        times = check_times(times)
        h, w = (int(v) for v in field_size)
        if h < 2 or w < 2:
            raise ValueError(f"field_size must be at least 2x2, got {field_size}")
        return self.solver.integrate(self.velocity, x0, times, (h, w))

    def record(self) -> dict:
        """What rebuilds this warp (weights aside): JSON-able names and configs."""
        inner = unwrap(self.velocity)
        return {"velocity": {"name": inner.name, "config": inner.config()},
                "solver": {"name": self.solver.name, "config": self.solver.config()}}

    @classmethod
    def from_record(cls, record: dict, **hints) -> "WarpODE":
        """Build the warp ``record`` names (``{"velocity": {"name", "config"}, "solver": ...}``).

        ``hints`` tell the velocity about the images (``channels``, ``field_shape``,
        ``pyramid_levels``, ``cell``; see ``img2gif.velocity.base.Velocity.configure``): a
        saved record is already complete, a new one gets its image-dependent defaults.
        Raises PluginError for an unknown name, ValueError/TypeError for a refused config.
        """
        from . import registry
        from .velocity.base import configure

        vel_cls = registry.load("velocity", record["velocity"]["name"])
        solver_cls = registry.load("solvers", record["solver"]["name"])
        velocity = vel_cls(**configure(vel_cls, record["velocity"].get("config", {}), **hints))
        solver = solver_cls(**record["solver"].get("config", {}))
        return cls(velocity, solver)


def warp_record(velocity: str, solver: str, velocity_config: dict | None = None, solver_config: dict | None = None) -> dict:
    """A record for :meth:`WarpODE.from_record` from backend names and their options."""
    return {"velocity": {"name": velocity, "config": dict(velocity_config or {})},
            "solver": {"name": solver, "config": dict(solver_config or {})}}


def refuse_pair_velocity(ode: WarpODE) -> None:
    """A velocity that sees two images (a pair prior) cannot be fitted or trained on one."""
    inner = unwrap(ode.velocity)
    if getattr(inner, "sees_pair", False):
        raise OptionError(f"velocity {inner.name!r} sees both images of a pair: it is a learned prior "
                          f"(`img2gif train --prior`), not a velocity to fit or train on one image")
