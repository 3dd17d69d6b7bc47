"""Self-describing checkpoints: plain dicts of tensors and JSON-able config.

Loaded with ``torch.load(..., weights_only=True)`` only, so a file can never run code.
Every file says what it is (``format``), which layout it uses (``format_version``) and
which img2gif wrote it; the backends rebuild from their saved name and config.

What :func:`load` checks, in this order, before anything is built from a file:

1. the zip's entries: unpacked, they may not exceed ``MAX_UNPACKED_BYTES``, nor
   ``MAX_EXPANSION`` times the file's size (torch.save stores entries uncompressed, so
   only a zip bomb goes past that);
2. the record's shape: only dicts, lists, tuples, plain values and dense numeric
   tensors, at most ``MAX_VALUES`` of them, nested at most ``MAX_DEPTH`` deep, and no
   tensor with more elements than its stored bytes hold (a stride-0 view of one byte
   could otherwise claim 40000 x 40000 pixels and be expanded by the digest); the known
   fields (velocity, solver, state_dict, fit, images, train), where present, are dicts;
3. the digest, which every file of the current format must carry;
4. that the weights (``state_dict``) are finite.

The sizes inside the configs (grid sizes, widths, step sizes, image sizes) are checked
by the backends' constructors and the loaders (``Pair.load``, ``LearnedModel.load``)
before they allocate anything.

The digest promises integrity, not authenticity: it is a sha256 of the content, so a
file that was damaged or edited after img2gif saved it (a flipped bit, a changed config,
a re-save that drops the digest) is refused. Anyone can compute it for a file they made,
so a valid digest says nothing about who made the file: that is why everything above is
checked on every file as if it came from a stranger.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import zipfile

import torch

from . import work
from .errors import InputError, PluginError
from .safefile import atomic_replace_file, save_torch

FORMAT_VERSION = 1
KINDS = ("img2gif.pair", "img2gif.model", "img2gif.prior")

# --- limits on what a checkpoint may hold (checked before anything is built from it) -----
MAX_UNPACKED_BYTES = 4 << 30   # a pair of two 50 Mpx images is 300 MB; a model well under 100 MB
MAX_EXPANSION = 20             # unpacked / file size; img2gif's own files are ~1x
EXPANSION_FLOOR = 1 << 20      # below 1 MiB unpacked the ratio is not worth refusing for
MAX_VALUES = 100_000           # dicts, lists and values in all; a training checkpoint has ~1,000
MAX_DEPTH = 32                 # nesting of dicts and lists; img2gif's own files go 5 deep
TENSOR_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8,
                 torch.int16, torch.int32, torch.int64, torch.bool}


def save(path, payload: dict, kind: str) -> None:
    """Write ``payload`` as a checkpoint of ``kind`` atomically (temp file + rename)."""
    from ._version import __version__

    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    record = {"format": kind, "format_version": FORMAT_VERSION, "img2gif_version": __version__, **payload}
    record.pop("digest", None)
    _check_plain(record)
    record["digest"] = digest(record)
    atomic_replace_file(lambda tmp: save_torch(record, tmp), path)


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
    """Read a checkpoint written by :func:`save`; InputError for anything else (see the module doc)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a .pt file")
    if not os.path.isfile(path):  # a pipe would block the read and a device never ends
        raise InputError(f"{path}: not a regular file (a pipe, socket or device), expected a .pt file")
    _check_zip(path)
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
    _check_contents(record, path)  # before the digest: it makes every tensor contiguous
    _check_sections(record, path)
    saved = record.get("digest")
    if not isinstance(saved, str):
        raise InputError(f"{path}: has no checksum (digest), which every img2gif file of format {FORMAT_VERSION} carries: "
                         "it was changed or damaged after it was saved")
    if saved != digest(record):
        raise InputError(f"{path}: checksum mismatch: the file was changed or damaged after it was saved")
    _check_finite_weights(record, path)
    return record


def _check_zip(path: str) -> None:
    """Refuse a file that is not a zip, or whose entries would unpack to far more than it holds.

    torch.load allocates each entry's unpacked size (from the zip directory) before it
    reads it: a 1 MB file could otherwise make it allocate gigabytes.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except Exception as exc:  # noqa: BLE001  zipfile raises BadZipFile, ValueError, struct.error... on garbage
        why = "not a zip archive" if isinstance(exc, zipfile.BadZipFile) else f"{type(exc).__name__}: {exc}"
        raise InputError(f"{path}: not a readable checkpoint, truncated or corrupt ({why[:160]})") from None
    size = os.path.getsize(path)
    limit = min(MAX_UNPACKED_BYTES, max(EXPANSION_FLOOR, MAX_EXPANSION * size))
    if unpacked > limit:
        raise InputError(f"{path}: refused: its entries unpack to {unpacked:,} bytes from a {size:,}-byte file "
                         f"(the limit is {limit:,}: at most {MAX_EXPANSION}x the file, and {MAX_UNPACKED_BYTES:,} in all)")


def _check_contents(record: dict, path: str) -> None:
    """Refuse anything but plain values and dense tensors, and more of them than a checkpoint needs.

    Walks every reference (a shared list counts each time it is reached, as the digest
    would reach it), so a small pickle of nested shared lists cannot make the walk explode.
    """
    stack = [(record, "", 0)]
    count = 0
    while stack:
        obj, where, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise InputError(f"{path}: refused: holds over {MAX_VALUES:,} values (an img2gif checkpoint has a few thousand)")
        if depth > MAX_DEPTH:
            raise InputError(f"{path}: refused: nested over {MAX_DEPTH} levels deep (at {where})")
        if isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise InputError(f"{path}: refused: key {k!r} at {where or 'top level'} is not a string")
                stack.append((v, f"{where}.{k}" if where else str(k), depth + 1))
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj))
        elif isinstance(obj, torch.Tensor):
            _check_tensor(obj, where, path)
        elif isinstance(obj, int) and not isinstance(obj, bool) and not -2**63 <= obj < 2**63:
            raise InputError(f"{path}: refused: {where} is an integer of {obj.bit_length()} bits")
        elif not (obj is None or isinstance(obj, (bool, int, float, str))):
            raise InputError(f"{path}: refused: {where} is a {type(obj).__name__}; img2gif checkpoints hold only tensors and plain values")


def _check_tensor(t: torch.Tensor, where: str, path: str) -> None:
    if t.layout != torch.strided or t.is_quantized or t.is_meta or t.dtype not in TENSOR_DTYPES:
        kind = str(t.dtype).replace("torch.", "") + ("" if t.layout == torch.strided else f" {t.layout}")
        raise InputError(f"{path}: refused: {where} is a {kind} tensor; img2gif checkpoints hold dense numeric tensors")
    # A view whose elements repeat its stored bytes (stride 0, overlapping strides) would
    # be expanded to its full size by .contiguous(): a few bytes can claim gigabytes.
    stored = t.untyped_storage().nbytes()
    if t.numel() * t.element_size() > stored:
        raise InputError(f"{path}: refused: {where} claims {t.numel():,} elements of shape {list(t.shape)} "
                         f"but stores only {stored:,} bytes (a repeated view)")


def _check_sections(record: dict, path: str) -> None:
    """The known fields, where present, have their shape (inspect reads them before any loader)."""
    for key in ("velocity", "solver"):
        section = record.get(key, {"name": "", "config": {}})
        if not isinstance(section, dict) or not isinstance(section.get("name"), str) or not isinstance(section.get("config"), dict):
            raise InputError(f"{path}: field {key!r} must be {{'name': text, 'config': {{...}}}}, got {shorten(section)}")
    for key in ("state_dict", "fit", "images", "train"):
        if not isinstance(record.get(key, {}), dict):
            raise InputError(f"{path}: field {key!r} must be a dict, got {shorten(record[key])}")


MAX_ABS_WEIGHT = 1e6  # normalised-unit velocities are O(1); network weights are O(1) too


def _check_finite_weights(record: dict, path: str) -> None:
    # NaN weights would render black frames and report 0 folded pixels: unusable, not "fine".
    weights = record.get("state_dict")
    if not isinstance(weights, dict):
        return
    for name, t in weights.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            if not torch.isfinite(t).all():
                raise InputError(f"{path}: holds NaN or infinite weights ({name}); the file is unusable")
            if t.numel() and float(t.abs().max()) > MAX_ABS_WEIGHT:
                # e.g. a velocity of 1e30: every pixel leaves the frame; no fit or training makes one
                raise InputError(f"{path}: holds absurdly large weights ({name}: |w| up to {float(t.abs().max()):.3g}, "
                                 f"the limit is {MAX_ABS_WEIGHT:g}); the file is unusable")


def rebuild_warp(record: dict, path, runs_at: tuple[int, int] | None = None, **hints):
    """The WarpODE that ``record`` describes (its "velocity" and "solver" sections).

    Every problem is an InputError naming the file and the field: a missing or unknown
    name, a config that is not a dict, an unknown option, a value the backend refuses (the
    built-in backends check types and limits before they allocate anything), or a velocity
    and solver that do not fit together.
    """
    from .ode import WarpODE

    for key in ("velocity", "solver"):
        section = record.get(key)
        if not isinstance(section, dict) or not isinstance(section.get("name"), str) or not isinstance(section.get("config"), dict):
            raise InputError(f"{path}: field {key!r} must be {{'name': text, 'config': {{...}}}}, got {shorten(section)}")
    try:
        ode = WarpODE.from_record(record, **hints)
    except PluginError as exc:
        raise InputError(f"{path}: {exc}") from None
    except (TypeError, ValueError) as exc:  # unknown keyword, a refused value, incompatible backends
        names = f"velocity {record['velocity']['name']!r} / solver {record['solver']['name']!r}"
        raise InputError(f"{path}: {names} config: {str(exc)[:160]}") from None
    if getattr(ode.velocity, "sees_pair", False) and record.get("format") != "img2gif.prior":
        raise InputError(f"{path}: velocity {ode.velocity.name!r} sees both images of a pair: only a prior "
                         f"(img2gif.prior) file can hold it")
    shape = runs_at or hints.get("field_shape")
    if shape is not None:  # sizes within their limits can still ask for hours of work together
        try:
            work.check(ode, shape, str(path))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    return ode


def shorten(value, limit=160) -> str:
    """repr(value), cut to ``limit`` characters: a crafted field may be a megabyte long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


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
