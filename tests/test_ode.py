"""WarpODE: built from its record, returns it, checks its backends and times once."""
from __future__ import annotations

import pytest
import torch

from img2gif import registry
from img2gif.ode import IncompatibleBackends, WarpODE, warp_record
from img2gif.velocity.base import CoarseToFine, StartsFromField, StartsFromTranslation, Velocity, has_hook

HINTS = {"channels": 3, "field_shape": (12, 16), "pyramid_levels": 3, "cell": 4}


def combinations():
    for velocity in registry.available("velocity"):
        for solver in registry.available("solvers"):
            yield velocity, solver


@pytest.mark.parametrize("velocity,solver", list(combinations()))
def test_record_round_trips_for_every_registered_backend(velocity, solver):
    record = warp_record(velocity, solver)
    try:
        ode = WarpODE.from_record(record, **HINTS)
    except IncompatibleBackends:
        vel, sol = registry.load("velocity", velocity), registry.load("solvers", solver)
        # only a declared incompatibility may refuse the pair
        assert (getattr(sol, "needs_stationary", False) and not getattr(vel, "stationary", False)) or \
               (getattr(sol, "needs_eulerian", False) and not getattr(vel, "eulerian", False))
        return
    saved = ode.record()
    rebuilt = WarpODE.from_record(saved)  # no hints: a saved record is complete
    assert rebuilt.record() == saved
    assert saved["velocity"]["name"] == velocity and saved["solver"]["name"] == solver
    # a pair prior's "image" is A and B stacked (its default: 3 channels each)
    x0 = torch.rand(1, 6 if getattr(rebuilt.velocity, "sees_pair", False) else 3, 12, 16)
    phi = rebuilt.fields(x0, [0.0, 0.5, -0.5], (12, 16))
    assert phi.shape == (3, 1, 2, 12, 16) and torch.equal(phi[0], torch.zeros_like(phi[0]))


def test_hints_reach_the_velocity():
    svf = WarpODE.from_record(warp_record("svf", "scaling-squaring"), **HINTS)
    assert svf.record()["velocity"]["config"] == {"size": [3, 4], "levels": 5}
    unet = WarpODE.from_record(warp_record("unet", "compose"), channels=4)
    assert unet.record()["velocity"]["config"]["in_channels"] == 4
    explicit = WarpODE.from_record(warp_record("unet", "compose", {"in_channels": 1}), channels=4)
    assert explicit.record()["velocity"]["config"]["in_channels"] == 1  # the record wins


def test_times_and_field_size_checked_at_the_boundary():
    ode = WarpODE.from_record(warp_record("svf", "scaling-squaring"), **HINTS)
    x0 = torch.rand(1, 3, 12, 16)
    with pytest.raises(ValueError, match="finite"):
        ode.fields(x0, [float("nan")], (12, 16))
    with pytest.raises(ValueError, match="non-empty"):
        ode.fields(x0, [], (12, 16))
    with pytest.raises(ValueError, match="2x2"):
        ode.fields(x0, [0.5], (1, 16))


def test_hooks_are_declared():
    svf = WarpODE.from_record(warp_record("svf", "scaling-squaring"), **HINTS).velocity
    unet = WarpODE.from_record(warp_record("unet", "compose"), channels=3).velocity
    assert isinstance(svf, Velocity) and isinstance(unet, Velocity)
    assert has_hook(svf, StartsFromTranslation) and has_hook(svf, StartsFromField) and has_hook(svf, CoarseToFine)
    assert not has_hook(unet, StartsFromTranslation) and not has_hook(unet, CoarseToFine)
    with pytest.raises(ValueError, match="unknown velocity hook"):
        has_hook(svf, "warp_speed")


DUCK_VELOCITY = '''
import torch


class DuckVelocity(torch.nn.Module):
    """A third-party velocity that does not subclass Velocity: still built and run."""

    name = "duck"
    stationary = True

    def __init__(self, size=(2, 2)):
        super().__init__()
        self.size = list(size)
        self.v = torch.nn.Parameter(torch.zeros(1, 2, *self.size))

    def config(self):
        return {"size": self.size}

    def field(self, x0=None):
        return self.v

    def forward(self, t, phi, x0):
        return torch.zeros_like(phi)
'''


def test_a_duck_typed_velocity_without_configure(install_plugin):
    """A velocity plugin that subclasses nothing and has no configure or hooks, registered
    through an entry point like any other."""
    install_plugin("img2gif-duck", {"img2gif.velocity": {"duck": "duck_velocity:DuckVelocity"}},
                   {"duck_velocity": DUCK_VELOCITY})
    ode = WarpODE.from_record(warp_record("duck", "scaling-squaring"), **HINTS)
    assert ode.record()["velocity"] == {"name": "duck", "config": {"size": [2, 2]}}
    assert not has_hook(ode.velocity, StartsFromTranslation)
