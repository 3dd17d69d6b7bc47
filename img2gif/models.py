"""Pretrained models: the shipped registry, the user cache, and hash-checked fetching.

A model is named (``smile``), or given as a path to a ``.pt``. Names resolve, in order, to
a model the user trained with ``train --name`` (``<cache>/models/user/<name>.pt``), then to
the registry shipped in the package (``img2gif/pretrained/registry.json``). A registry entry's
file is copied from the package (or downloaded, for a URL source) into ``<cache>/models/``
through a temporary file in that folder, its sha256 checked, then renamed into place, so a
cache never holds a partial or unverified file. ``IMG2GIF_OFFLINE=1`` never uses the network.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from .errors import InputError
from .inspection import cache_dir
from .writers import atomic_replace_file

PACKAGE_MODELS = Path(__file__).resolve().parent / "pretrained"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DOWNLOAD_TIMEOUT = 30


def registry() -> dict[str, dict]:
    """The shipped registry: name -> {description, file, size, sha256, license, source, ...}."""
    path = PACKAGE_MODELS / "registry.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


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
    if user_models_dir().is_dir():
        names |= {p.stem for p in user_models_dir().glob("*.pt")}
    return sorted(names)


def resolve(name_or_path: str, progress=None) -> Path:
    """A verified local file for a model name or path; InputError if there is none."""
    text = os.fspath(name_or_path)
    if not is_model_name(text):
        path = Path(text)
        if not path.is_file():
            raise InputError(f"{text}: no such model file (model names are letters, digits, '-', '_' and '.'; known: {', '.join(known_models()) or 'none'})")
        return path
    user = user_models_dir() / f"{text}.pt"
    if user.is_file():
        return user
    entries = registry()
    if text not in entries:
        raise InputError(f"unknown model {text!r}; known: {', '.join(known_models()) or 'none'}")
    return fetch(text, entries[text], progress=progress)


def fetch(name: str, entry: dict, progress=None) -> Path:
    """The cached file for a registry entry, (re)placed from its source if missing or bad."""
    target = models_dir() / entry["file"]
    if target.is_file() and sha256_of(target) == entry["sha256"]:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    source = entry.get("source", "package")

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
    atomic_replace_file(place, target)
    return target


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


def install_user_model(source: Path, name: str) -> Path:
    """Copy a trained model into the user model folder so that ``--model NAME`` finds it."""
    if not is_model_name(name):
        raise InputError(f"--name {name!r}: use letters, digits, '-', '_' and '.' only")
    dest_dir = user_models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    atomic_replace_file(lambda tmp: shutil.copyfile(source, tmp), dest_dir / f"{name}.pt")
    return dest_dir / f"{name}.pt"
