"""Pretrained models: the shipped registry, the user cache, and hash-checked fetching.

A model is named (``smile``), or given as a path to a ``.pt``. A name is first a model
shipped in the package's registry (``img2gif/pretrained/registry.json``): shipped names are
reserved, so a file planted in the user folder cannot stand in for one (it is ignored, with
a warning, and ``inspect --models`` shows it as ignored); then a model the user trained with
``train --name`` (``<cache>/models/user/<name>.pt``). A registry entry's file is copied from
the package (or downloaded, for a URL source) into ``<cache>/models/`` through a temporary
file in that folder, its sha256 checked, then renamed into place, so a cache never holds a
partial or unverified file. When the cache cannot be written, a shipped model is read from
the package itself (checked the same way). ``IMG2GIF_OFFLINE=1`` never uses the network.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from .errors import InputError, OutputError
from .safefile import atomic_replace_file

PACKAGE_MODELS = Path(__file__).resolve().parent / "pretrained"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DOWNLOAD_TIMEOUT = 30


def registry() -> dict[str, dict]:
    """The shipped registry: name -> {description, file, size, sha256, license, source, ...}."""
    path = PACKAGE_MODELS / "registry.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def cache_dir() -> Path:
    """Where models are cached: IMG2GIF_CACHE_DIR, else the platform's user cache dir."""
    env = os.environ.get("IMG2GIF_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("img2gif"))


def models_dir() -> Path:
    return cache_dir() / "models"


def user_models_dir() -> Path:
    return models_dir() / "user"


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_model_name(text: str) -> bool:
    """A bare name like 'smile' (no path separators, no '..', no extension games)."""
    return bool(NAME_RE.match(text)) and ".." not in text and not text.endswith(".pt")


def known_models() -> list[str]:
    names = set(registry())
    try:
        if user_models_dir().is_dir():
            names |= {p.stem for p in user_models_dir().glob("*.pt")}
    except OSError:  # an unreadable cache folder hides user models, nothing more
        pass
    return sorted(names)


def resolve(name_or_path: str, progress=None) -> Path:
    """A verified local file for a model name or path; InputError if there is none."""
    text = os.fspath(name_or_path)
    if not is_model_name(text):
        path = Path(text)
        if not path.is_file():
            raise InputError(f"{text}: no such model file (model names are letters, digits, '-', '_' and '.'; known: {', '.join(known_models()) or 'none'})")
        return path
    entries = registry()
    user = user_models_dir() / f"{text}.pt"
    if text in entries:
        if _is_file(user):
            warnings.warn(f"{user}: ignored: {text!r} is a shipped model and shipped names are reserved "
                          "(rename the file to use it)", stacklevel=2)
        return fetch(text, entries[text], progress=progress)
    if _is_file(user):
        return user
    raise InputError(f"unknown model {text!r}; known: {', '.join(known_models()) or 'none'}")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def is_cached(entry: dict) -> bool:
    """Whether the cache holds this registry entry's file, the right one (a model shipped
    again under a new version has a new hash: the old copy is replaced on first use)."""
    target = models_dir() / entry["file"]
    try:
        return target.is_file() and sha256_of(target) == entry["sha256"]
    except OSError:
        return False


def fetch(name: str, entry: dict, progress=None) -> Path:
    """The cached file for a registry entry, (re)placed from its source if missing or bad.

    A cache that cannot be written (a file where the folder should be, read-only) is not
    fatal for a shipped model: the package's own copy is checked and used instead.
    """
    target = models_dir() / entry["file"]
    if is_cached(entry):
        return target
    source = entry.get("source", "package")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(target.parent, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        return _uncached(name, entry, target.parent, exc)

    def place(tmp: Path) -> None:
        if source == "package":
            shipped = PACKAGE_MODELS / entry["file"]
            if not shipped.is_file():
                raise InputError(f"model {name!r}: its file {shipped} is missing from this installation")
            shutil.copyfile(shipped, tmp)
        else:
            if os.environ.get("IMG2GIF_OFFLINE") == "1":
                raise InputError(f"model {name!r} is not in the cache ({target}) and IMG2GIF_OFFLINE=1 forbids downloading it")
            _download(source, tmp, entry.get("size"), progress)
        got = sha256_of(tmp)
        if got != entry["sha256"]:
            raise InputError(f"model {name!r}: sha256 mismatch (expected {entry['sha256'][:12]}…, got {got[:12]}…); nothing was cached")

    # temp file + rename: concurrent first uses both end with one valid file, never a partial one
    try:
        atomic_replace_file(place, target)
    except OutputError as exc:  # e.g. the cache's disk is full
        return _uncached(name, entry, target.parent, exc)
    return target


def _uncached(name: str, entry: dict, folder: Path, exc) -> Path:
    """The shipped file itself, checked, when the cache cannot be written."""
    reason = getattr(exc, "strerror", None) or str(exc)
    shipped = PACKAGE_MODELS / entry["file"]
    if entry.get("source", "package") != "package":
        raise InputError(f"model {name!r}: the model cache {folder} cannot be written ({reason}); "
                         "set IMG2GIF_CACHE_DIR to a writable folder") from None
    if not shipped.is_file() or sha256_of(shipped) != entry["sha256"]:
        raise InputError(f"model {name!r}: its shipped file {shipped} is missing or damaged") from None
    warnings.warn(f"model cache {folder} cannot be written ({reason}); using the shipped file {shipped}", stacklevel=3)
    return shipped


def _download(url: str, dest: Path, expected_size, progress=None) -> None:
    if not url.startswith(("https://", "http://")):
        raise InputError(f"model source {url!r} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or expected_size or 0)
            done = 0
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InputError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None
    if total and done != total:
        raise InputError(f"download of {url} was cut off ({done} of {total} bytes); nothing was cached")


def check_user_model_name(name: str) -> Path:
    """Where ``train --name NAME`` will store its model; refused before any training if the
    name is not a plain name, is a shipped model's, or the user model folder cannot be written."""
    if not is_model_name(name):
        raise InputError(f"--name {name!r}: use letters, digits, '-', '_' and '.' only")
    if name in registry():
        raise InputError(f"--name {name!r}: a shipped model has this name (shipped names are reserved); choose another")
    dest_dir = user_models_dir()
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(dest_dir, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise OutputError(f"{dest_dir}: the user model folder cannot be written ({exc.strerror or exc}); "
                          "set IMG2GIF_CACHE_DIR to a writable folder") from None
    return dest_dir / f"{name}.pt"


def install_user_model(source: Path, name: str) -> Path:
    """Copy a trained model into the user model folder so that ``--model NAME`` finds it."""
    dest = check_user_model_name(name)
    atomic_replace_file(lambda tmp: shutil.copyfile(source, tmp), dest)
    return dest
