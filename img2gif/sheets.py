"""Training's sample sheets: where they go, and that a sheet only ever replaces a sheet.

A run writes ``<checkpoint stem>-samples/step_NNNNNNN.png``. A file already at one of those
paths is replaced only if img2gif wrote it as a sample sheet (a PNG text chunk says so): a
user's own file there, or one of the run's own inputs (its still mask), is never overwritten;
the run is refused before any work instead.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from .errors import Img2GifError, OptionError, OutputError

_MARK_KEY, _MARK_VALUE = "img2gif", "sample sheet"
_NAME = re.compile(r"step_(\d{7})\.png")


def samples_dir(checkpoint) -> Path:
    """The folder a run's sample sheets go to: beside the checkpoint, ``<stem>-samples``."""
    checkpoint = Path(os.fspath(checkpoint))
    return checkpoint.with_name(checkpoint.stem + "-samples")


def sheet_path(folder: Path, step: int) -> Path:
    return folder / f"step_{step:07d}.png"


def sheet_steps(start: int, steps: int, every: int) -> list[int]:
    """The steps after ``start`` (up to ``steps``) that write a sheet, every ``every`` and the last."""
    if not every or start >= steps:
        return []
    return sorted(set(range(every * (start // every + 1), steps + 1, every)) | {steps})


def is_sheet(path: Path) -> bool:
    """Whether ``path`` is a PNG that img2gif wrote as a sample sheet."""
    try:
        with Image.open(path) as im:
            return im.format == "PNG" and getattr(im, "text", {}).get(_MARK_KEY) == _MARK_VALUE
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def check_sheet_paths(folder: Path, start: int, steps: int, every: int, inputs=()) -> None:
    """Refuse, before any work, a run whose sheets would replace a file that is not a sheet
    img2gif wrote, or one of the run's ``inputs`` (paths)."""
    if not every or not folder.is_dir():
        return
    wanted = set(sheet_steps(start, steps, every))
    for entry in sorted(os.listdir(folder)):
        match = _NAME.fullmatch(entry)
        if match is None or int(match.group(1)) not in wanted:
            continue  # never written by this run: left alone whatever it is
        _check_replaceable(folder / entry, inputs)


def _check_replaceable(path: Path, inputs) -> None:
    for given in inputs:
        if given is not None and os.path.exists(given) and os.path.exists(path) and os.path.samefile(given, path):
            raise OptionError(f"{path}: a sample sheet of this run would replace it, and it is one of the run's "
                              "inputs; move it or give another -o")
    if os.path.lexists(path) and not (path.is_file() and not path.is_symlink() and is_sheet(path)):
        raise OptionError(f"{path}: a sample sheet of this run would replace it, and it is not a sheet img2gif "
                          "wrote; move it, give another -o, or --sample-every 0")


def save_sheet(path: Path, rows: np.ndarray, inputs=()) -> None:
    """Write the (H, W) or (H, W, 3) uint8 sheet ``rows`` at ``path`` atomically, marked as a
    sheet; a file that appeared there since the check and is not a sheet is not replaced."""
    from .safefile import atomic_replace_file

    _check_replaceable(path, inputs)
    info = PngImagePlugin.PngInfo()
    info.add_text(_MARK_KEY, _MARK_VALUE)
    made = not path.parent.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_replace_file(lambda tmp: Image.fromarray(rows).save(tmp, format="PNG", pnginfo=info), path)
    except (OSError, Img2GifError) as exc:
        if made:  # a folder made for a sheet that could not be written is not left behind
            try:
                path.parent.rmdir()
            except OSError:
                pass
        if isinstance(exc, Img2GifError):
            raise
        raise OutputError(f"{path.parent}: cannot write sample sheets ({exc.strerror or exc})") from None
