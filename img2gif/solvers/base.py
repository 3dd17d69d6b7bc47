"""The solver interface every ``img2gif.solvers`` plugin implements."""
from __future__ import annotations

import torch


class Solver:
    """Integrates a velocity from Phi_0 = 0 to the requested times.

    Subclasses set ``name`` and implement :meth:`integrate`. Constructor keyword
    arguments are the solver's options; :meth:`config` returns them JSON-able so the
    solver can be rebuilt as ``cls(**config)``.
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
