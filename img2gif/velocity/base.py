"""The velocity contract: what every ``img2gif.velocity`` plugin is, and the optional hooks.

A velocity is an ``nn.Module`` with ``forward(t, phi, x0) -> dphi/dt`` ((B, 2, h, w),
normalised units per unit time), a ``name`` and ``config()``: the JSON-able keywords that
rebuild it as ``cls(**config)``. Subclassing :class:`Velocity` is optional (the core only
uses what is below, with these defaults), but it documents the contract in one place.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import nn


class Velocity(nn.Module):
    """Base class of velocity backends.

    Capabilities (class attributes) that solvers check:
        stationary: the velocity does not depend on t or the field; ``field(x0)`` returns it
            as a (B, 2, h, w) grid, and ``scaling-squaring`` can integrate it.
        eulerian: ``forward(t, phi, x0, frame_only=True)`` returns u, the velocity of the
            current frame ``x0 o (id + phi)``; the ``compose`` solver steps with it.
        sees_pair: x0 is two images stacked on the channels (A and B): a prior for a pair
            (``pair-unet``), which ``fit-pair`` and ``train`` (one image each) refuse.

    Optional hooks the pair fit uses when a velocity has them (each a protocol below, asked
    with :func:`has_hook`):
        set_translation(dx, dy): start from a pure translation (normalised units); the fit's
            global shift search uses it.
        set_field(v, level): start from the velocity field ``v`` (1, 2, h, w), held at grid
            ``level``; a trained model's Phi_1 starts the pair fit through it.
        levels / active_levels: a multi-resolution velocity has ``levels`` grids; the
            coarse-to-fine fit sets ``active_levels`` (1 ... levels) per pyramid level.
        stack(velocities) / unstack_into(velocities): fit several pairs as one batch.
    Optional hook ``img2gif.work`` uses to bound a file's warp before it runs:
        cost_per_pixel(): multiply-adds per field pixel per evaluation. Without it, one per
            parameter is charged (a convolution's cost at full resolution: an upper bound).
    """

    name = "velocity"
    stationary = False
    eulerian = False
    sees_pair = False
    levels: int | None = None

    @classmethod
    def configure(cls, config: dict, **hints) -> dict:
        """The config to build with, given what the core knows about the images (``hints``):
        ``channels`` (C of x0), ``field_shape`` ((h, w) the field is integrated at),
        ``pyramid_levels`` (a coarse-to-fine fit's levels), ``cell`` (field pixels per grid
        cell a grid velocity should use). Values already in ``config`` win; a velocity takes
        the hints it needs and ignores the rest. The default changes nothing."""
        return dict(config)

    def config(self) -> dict:
        raise NotImplementedError


@runtime_checkable
class StartsFromTranslation(Protocol):
    """A velocity a fit can start from a pure translation (the shift search's, 1x1 proposals)."""

    def set_translation(self, dx: float, dy: float) -> None:
        ...


@runtime_checkable
class StartsFromField(Protocol):
    """A velocity a fit can start from a field (block matching's, a model's Phi_1, a prior's)."""

    def set_field(self, v, level: int) -> None:
        ...


@runtime_checkable
class CoarseToFine(Protocol):
    """A multi-resolution velocity: ``levels`` grids, of which the fit enables ``active_levels``."""

    levels: int
    active_levels: int


@runtime_checkable
class Stacks(Protocol):
    """A velocity whose fits of several pairs run as one batch (``fit.fit_pairs_tensors``):
    ``stack(velocities)`` is one velocity of the same config whose batch element i is
    ``velocities[i]`` (its field is (N, 2, h, w)); ``unstack_into(velocities)`` copies each
    element back."""

    def stack(self, velocities):
        ...

    def unstack_into(self, velocities) -> None:
        ...


HOOKS = (StartsFromTranslation, StartsFromField, CoarseToFine, Stacks)


def unwrap(module):
    """The module a ``DistributedDataParallel`` wraps (training under torchrun), else ``module``:
    its attributes (name, config, hooks) are the inner module's."""
    from torch.nn.parallel import DistributedDataParallel

    return module.module if isinstance(module, DistributedDataParallel) else module


def has_hook(velocity, hook: type) -> bool:
    """Does ``velocity`` (a Velocity subclass, or a class or module that follows the contract
    without one; unwrapped from DDP) provide ``hook``, one of ``HOOKS``?"""
    if hook not in HOOKS:
        raise ValueError(f"unknown velocity hook {hook!r}; known: {', '.join(h.__name__ for h in HOOKS)}")
    velocity = unwrap(velocity)
    if hook is CoarseToFine:  # a class attribute levels = None means "one grid"
        return isinstance(getattr(velocity, "levels", None), int) and hasattr(velocity, "active_levels")
    return all(callable(getattr(velocity, name, None)) for name in _methods(hook))


def _methods(hook: type) -> list[str]:
    return [name for name in vars(hook) if not name.startswith("_")]


def configure(cls, config: dict, **hints) -> dict:
    """``cls.configure(config, **hints)`` for velocities that have it; else ``config`` as given."""
    method = getattr(cls, "configure", None)
    return method(config, **hints) if callable(method) else dict(config)
