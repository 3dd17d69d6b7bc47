"""Backend discovery through entry points: lazy, cached, broken plugins isolated.

Groups: ``img2gif.solvers``, ``img2gif.velocity``, ``img2gif.losses`` (data losses),
``img2gif.penalties`` (on the field), ``img2gif.estimators``, ``img2gif.writers``. The project's own
backends are registered in its ``pyproject.toml`` like anyone else's. A source checkout
that was never installed has no entry points, so the tables are read from that
``pyproject.toml`` itself (``_source_builtins``): one list, never a copy.
"""
from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path

from .errors import PluginError

GROUPS = {
    "solvers": "img2gif.solvers",
    "velocity": "img2gif.velocity",
    "losses": "img2gif.losses",
    "penalties": "img2gif.penalties",
    "estimators": "img2gif.estimators",
    "writers": "img2gif.writers",
}

_SINGULAR = {"solvers": "solver", "velocity": "velocity", "losses": "loss", "penalties": "penalty", "estimators": "estimator", "writers": "writer"}

_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_TABLE = re.compile(r'^\[project\.entry-points\."([^"]+)"\]\s*$')
_ENTRY = re.compile(r'^([A-Za-z0-9_.-]+)\s*=\s*"([^"]+)"\s*$')


@lru_cache(maxsize=None)
def _source_builtins() -> dict[str, dict[str, str]]:
    """img2gif's own entry points read from the ``pyproject.toml`` of a source checkout (empty
    for an installed wheel, which has none beside it and registers them in its metadata).
    Only the ``[project.entry-points."group"]`` tables of ``name = "module:attr"`` lines are
    read: no TOML library is needed (Python 3.10 has none)."""
    try:
        text = _PYPROJECT.read_text(encoding="utf-8")
    except OSError:
        return {}
    if not re.search(r'^name\s*=\s*"img2gif"\s*$', text, re.M):
        return {}  # a pyproject.toml above an installed img2gif is someone else's
    tables: dict[str, dict[str, str]] = {}
    group = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            found = _TABLE.match(line)
            group = found.group(1) if found else None
            if group is not None:
                tables.setdefault(group, {})
        elif group is not None and (entry := _ENTRY.match(line)):
            tables[group][entry.group(1)] = entry.group(2)
    return tables


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
    """Names registered for ``kind`` (a key of ``GROUPS``); imports nothing."""
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
    for name, target in _source_builtins().get(group, {}).items():
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
