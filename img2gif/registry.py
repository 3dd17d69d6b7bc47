"""Backend discovery through entry points: lazy, cached, broken plugins isolated.

Groups: ``img2gif.solvers``, ``img2gif.velocity``, ``img2gif.losses``, ``img2gif.estimators``,
``img2gif.writers``. The project's own
backends are registered in its ``pyproject.toml`` like anyone else's. A source checkout
that was never installed has no entry points, so ``_SOURCE_BUILTINS`` (kept equal to the
``pyproject.toml`` table by a test) stands in for them.
"""
from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

from .errors import PluginError

GROUPS = {
    "solvers": "img2gif.solvers",
    "velocity": "img2gif.velocity",
    "losses": "img2gif.losses",
    "estimators": "img2gif.estimators",
    "writers": "img2gif.writers",
}

_SINGULAR = {"solvers": "solver", "velocity": "velocity", "losses": "loss", "estimators": "estimator", "writers": "writer"}

_SOURCE_BUILTINS = {
    "img2gif.solvers": {
        "euler": "img2gif.solvers.torchdiffeq_solvers:Euler",
        "midpoint": "img2gif.solvers.torchdiffeq_solvers:Midpoint",
        "rk4": "img2gif.solvers.torchdiffeq_solvers:RK4",
        "dopri5": "img2gif.solvers.torchdiffeq_solvers:Dopri5",
        "scaling-squaring": "img2gif.solvers.scaling_squaring:ScalingSquaring",
        "compose": "img2gif.solvers.compose:Compose",
    },
    "img2gif.velocity": {
        "svf": "img2gif.velocity.svf:SVF",
        "unet": "img2gif.velocity.unet:UNetVelocity",
        "pair-unet": "img2gif.velocity.pair_unet:PairUNetVelocity",
    },
    "img2gif.losses": {
        "l2": "img2gif.losses.data:l2",
        "charbonnier": "img2gif.losses.data:charbonnier",
        "jacobian": "img2gif.losses.penalties:jacobian",
        "outgrid": "img2gif.losses.penalties:outgrid",
        "smoothness": "img2gif.losses.penalties:smoothness",
        "displacement": "img2gif.losses.penalties:displacement",
    },
    "img2gif.estimators": {
        "shift": "img2gif.estimators.shift:GlobalShift",
        "blocks": "img2gif.estimators.blocks:BlockMatching",
    },
    "img2gif.writers": {
        "gif": "img2gif.writers.gif:GifWriter",
        "mp4": "img2gif.writers.mp4:Mp4Writer",
        "webp": "img2gif.writers.webp:WebpWriter",
        "apng": "img2gif.writers.apng:ApngWriter",
        "frames": "img2gif.writers.frames:FramesWriter",
    },
}


@dataclass(frozen=True)
class PluginInfo:
    """One registered backend: where it points and who provides it (not yet imported)."""

    group: str
    name: str
    target: str
    provider: str


def _group(kind: str) -> str:
    if kind in GROUPS:
        return GROUPS[kind]
    if kind in GROUPS.values():
        return kind
    raise ValueError(f"unknown plugin kind {kind!r}; expected one of {sorted(GROUPS)}")


@lru_cache(maxsize=None)
def available(kind: str) -> dict[str, PluginInfo]:
    """Names registered for ``kind`` ('solvers', 'velocity', 'losses', 'estimators', 'writers'); imports nothing."""
    group = _group(kind)
    found: dict[str, PluginInfo] = {}
    for ep in entry_points(group=group):
        provider = ep.dist.name if getattr(ep, "dist", None) is not None else "?"
        if ep.name in found and found[ep.name].target != ep.value:
            warnings.warn(
                f"plugin name {ep.name!r} in {group} is registered twice "
                f"({found[ep.name].target} and {ep.value}); using the first",
                stacklevel=2,
            )
            continue
        found.setdefault(ep.name, PluginInfo(group, ep.name, ep.value, provider))
    for name, target in _SOURCE_BUILTINS[group].items():
        # Installed img2gif registers these itself; a bare source checkout does not.
        found.setdefault(name, PluginInfo(group, name, target, "img2gif (source)"))
    return dict(sorted(found.items()))


@lru_cache(maxsize=None)
def _import_target(target: str):
    module_name, _, attr = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def load(kind: str, name: str):
    """The object registered as ``name`` for ``kind``; a clear PluginError otherwise."""
    plugins = available(kind)
    if name not in plugins:
        known = ", ".join(plugins) or "none"
        raise PluginError(f"unknown {_SINGULAR.get(kind, kind)} {name!r}; known: {known}")
    info = plugins[name]
    try:
        return _import_target(info.target)
    except Exception as exc:  # a third-party plugin may fail in any way
        raise PluginError(
            f"plugin {name!r} ({info.group}, from {info.provider}) failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def check_all() -> list[tuple[PluginInfo, str | None]]:
    """Every registered backend with None if it loads, else the error text (for inspect)."""
    rows = []
    for kind in GROUPS:
        for name, info in available(kind).items():
            try:
                load(kind, name)
                rows.append((info, None))
            except PluginError as exc:
                rows.append((info, str(exc)))
    return rows


def clear_cache() -> None:
    """Forget discovered and imported plugins (tests that change sys.path use this)."""
    available.cache_clear()
    _import_target.cache_clear()
