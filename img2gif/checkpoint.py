"""Self-describing checkpoints: plain dicts of tensors and JSON-able config.

Loaded with ``torch.load(..., weights_only=True)`` only, so a file can never run code.
Every file says what it is (``format``), which layout it uses (``format_version``) and
which img2gif wrote it; the backends rebuild from their saved name and config.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re

import torch

from .errors import InputError
from .writers import atomic_replace_file

FORMAT_VERSION = 1
KINDS = ("img2gif.pair", "img2gif.model")


def save(path, payload: dict, kind: str) -> None:
    """Write ``payload`` as a checkpoint of ``kind`` atomically (temp file + rename)."""
    from . import __version__

    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    record = {"format": kind, "format_version": FORMAT_VERSION, "img2gif_version": __version__, **payload}
    record.pop("digest", None)
    _check_plain(record)
    record["digest"] = digest(record)
    atomic_replace_file(lambda tmp: torch.save(record, tmp), path)


def digest(record: dict) -> str:
    """sha256 over every value of ``record`` except its own "digest" (keys sorted).

    Why: torch.load does not check the zip entries' CRCs, so a flipped bit in a tensor
    would load silently as a different model; with the digest it is refused.
    """
    h = hashlib.sha256()

    def feed(obj):
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(obj, dict):
            h.update(b"{")
            for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
                if obj is record and k == "digest":
                    continue
                h.update(repr(k).encode() + b":")
                feed(obj[k])
            h.update(b"}")
        elif isinstance(obj, (list, tuple)):
            h.update(b"[")
            for v in obj:
                feed(v)
            h.update(b"]")
        else:
            h.update(repr(obj).encode())
        h.update(b";")

    feed(record)
    return h.hexdigest()


def _check_plain(obj, where="checkpoint"):
    # Only what weights_only=True can load back: fail at save time, not at load time.
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):  # int keys: optimiser state
                raise TypeError(f"{where}: key {k!r} is not a string")
            _check_plain(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
    elif not (obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor))):
        raise TypeError(f"{where}: {type(obj).__name__} cannot go into a checkpoint")


def load(path, kind: str | None = None, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save`; InputError for anything else."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file" if not os.path.isdir(path) else f"{path}: is a directory, expected a .pt file")
    try:
        record = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found:  # a pickle that imports something: loading it would run code
            raise InputError(f"{path}: refused: it asks to import {found.group(1)} (loading it could run code); "
                             "img2gif checkpoints hold only tensors and plain values") from None
        raise InputError(f"{path}: not a readable checkpoint, truncated or corrupt") from None
    except Exception as exc:  # noqa: BLE001  torch's unpickler raises IndexError, KeyError... on garbage
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: not a readable checkpoint, truncated or corrupt ({first[:160]})") from None
    if not isinstance(record, dict) or record.get("format") not in KINDS:
        raise InputError(f"{path}: not an img2gif checkpoint")
    version = record.get("format_version")
    if not isinstance(version, int):
        raise InputError(f"{path}: checkpoint has no format version")
    if version > FORMAT_VERSION:
        raise InputError(
            f"{path}: made by a newer img2gif ({record.get('img2gif_version', '?')}, format {version}); "
            f"this version reads format {FORMAT_VERSION}: upgrade img2gif"
        )
    if kind is not None and record["format"] != kind:
        raise InputError(f"{path}: is a {record['format']} file, expected {kind}")
    saved = record.get("digest")  # files from before the digest have none: nothing to check
    if saved is not None and saved != digest(record):
        raise InputError(f"{path}: checksum mismatch: the file was changed or damaged after it was saved")
    return record


def describe(record: dict) -> dict:
    """JSON-able summary of a checkpoint (for inspect): everything but the tensors."""

    def strip(obj):
        if isinstance(obj, torch.Tensor):
            return f"tensor{list(obj.shape)} {str(obj.dtype).replace('torch.', '')}"
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [strip(v) for v in obj]
        return obj

    out = strip(record)
    json.dumps(out)
    return out
