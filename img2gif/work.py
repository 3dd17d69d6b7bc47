"""How much computing a warp asks for, estimated before it runs.

A file's sizes can all be within their limits (a 1024-px prior, a wide network, a tiny solver
step) and still ask for hours of work on a 64x48 pair. The estimate is multiply-adds for one
unit of time at the size the field is integrated at: the velocity's cost per field pixel and
per evaluation (``Velocity.cost_per_pixel``) times the solver's evaluations per unit of time
(``Solver.evaluations_per_unit_time``), times the pixels.
"""
from __future__ import annotations

import math

from .velocity.base import unwrap

#: Multiply-adds a file's warp may ask for per unit of time: about half a minute on 2 CPU
#: cores. The shipped models and a default prior ask for under 1 % of it (tests/test_work.py).
MAX_WORK = 1e12


def velocity_cost(velocity) -> float:
    """Multiply-adds per field pixel per evaluation; a plugin without the hook is charged one
    per parameter (a convolution's cost at full resolution: an upper bound)."""
    velocity = unwrap(velocity)
    hook = getattr(velocity, "cost_per_pixel", None)
    if callable(hook):
        return float(hook())
    return float(sum(p.numel() for p in velocity.parameters()))


def solver_evaluations(solver) -> float:
    """Velocity evaluations per unit of time; without the hook, one per ``step_size``."""
    hook = getattr(solver, "evaluations_per_unit_time", None)
    if callable(hook):
        return float(hook())
    step = getattr(solver, "options", {}).get("step_size")
    return math.ceil(1.0 / step) if isinstance(step, (int, float)) and step > 0 else 1.0


def estimate(ode, shape: tuple[int, int]) -> float:
    """Multiply-adds for one unit of time of ``ode`` at field shape ``shape`` (h, w)."""
    return shape[0] * shape[1] * velocity_cost(ode.velocity) * solver_evaluations(ode.solver)


def check(ode, shape: tuple[int, int], where: str) -> None:
    """Refuse (ValueError naming the parts) a warp that asks for more than MAX_WORK."""
    work = estimate(ode, shape)
    if not work <= MAX_WORK:
        raise ValueError(f"{where}: its warp asks for about {work:.2g} multiply-adds per unit of time at "
                         f"{shape[1]}x{shape[0]} ({ode.velocity.name} x {solver_evaluations(ode.solver):g} "
                         f"{ode.solver.name} evaluations), over the limit of {MAX_WORK:.0e}")
