"""The solver interface every ``img2gif.solvers`` plugin implements."""
from __future__ import annotations

import math
import numbers

import torch

#: Smallest fixed step: at most 1,000 steps per unit of time. Every frame integrates from
#: t = 0, so a smaller step (a file can say 1e-9) is a hang, not more accuracy.
MIN_STEP_SIZE = 1e-3
#: Adaptive tolerances: below float32's resolution (~1.2e-7) a solver can never meet them.
MIN_TOLERANCE = 1e-7
MAX_TOLERANCE = 1.0


class Solver:
    """Integrates a velocity from Phi_0 = 0 to the requested times.

    Subclasses set ``name`` and implement :meth:`integrate`. Constructor keyword
    arguments are the solver's options; :meth:`config` returns them JSON-able so the
    solver can be rebuilt as ``cls(**config)``. Optional hook ``img2gif.work`` uses to bound a
    file's warp: ``evaluations_per_unit_time()``, velocity evaluations to integrate one unit
    of time (without it: one per ``step_size`` option, else one).
    """

    name = "solver"
    #: True when the solver can only integrate stationary (time-independent) velocities.
    needs_stationary = False

    def __init__(self, **options):
        self.options = dict(options)

    def config(self) -> dict:
        return dict(self.options)

    def integrate(self, velocity, x0: torch.Tensor, times: torch.Tensor, field_size: tuple[int, int]) -> torch.Tensor:
        """Phi_t for each time.

        Args:
            velocity: a velocity module (``img2gif.velocity``), called ``velocity(t, phi, x0)``.
            x0: (B, C, H, W) image the velocity is conditioned on.
            times: (T,) real times, any sign and order; 0 gives Phi = 0.
            field_size: (h, w) of the displacement field.
        Returns:
            (T, B, 2, h, w) displacement fields (normalised units, see ``img2gif.warp``).
        """
        raise NotImplementedError


def check_times(times) -> torch.Tensor:
    """Validate requested times: a 1-D finite tensor (lists and floats are accepted)."""
    times = torch.as_tensor(times, dtype=torch.float64 if isinstance(times, torch.Tensor) and times.dtype == torch.float64 else torch.float32)
    if times.dim() == 0:
        times = times.reshape(1)
    if times.dim() != 1 or times.numel() == 0:
        raise ValueError(f"times must be a non-empty 1-D sequence, got shape {tuple(times.shape)}")
    if not torch.isfinite(times).all():
        raise ValueError("times must be finite")
    return times


# --- config checks for the built-in backends (solvers and velocities) ---------------------
# Configs come from files as well as from code: a string, a bool or a NaN where a number
# belongs must be a ValueError naming the option, never a silent int("64") or bool("no").

def config_int(name: str, value, low: int, high: int) -> int:
    """``value`` as an int in [low, high]; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number between {low} and {high}, got {value!r}")
    return int(value)


def config_float(name: str, value, low: float, high: float = math.inf) -> float:
    """``value`` (an int or float, finite) as a float in [low, high]; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or not low <= value <= high:
        span = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise ValueError(f"{name} must be a finite number {span}, got {value!r}")
    return float(value)


def config_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value
