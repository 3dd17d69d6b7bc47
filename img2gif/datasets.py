"""Image folders for training: ``start/`` and ``end/`` domains, paired or unpaired."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .errors import InputError
from .imagefile import Img2GifWarning, read_image

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
MAX_IMAGES = 200_000


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; InputError if none or missing."""
    if not folder.is_dir():
        raise InputError(f"{folder}: data folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise InputError(f"{folder}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    if len(files) > MAX_IMAGES:
        raise InputError(f"{folder}: {len(files)} images, over the limit of {MAX_IMAGES}")
    return files


def _load(path: Path, size: int, channels: int) -> np.ndarray:
    rgb = read_image(path)
    im = Image.fromarray(rgb).resize((size, size), Image.Resampling.LANCZOS)
    arr = np.asarray(im.convert("L"))[..., None] if channels == 1 else np.asarray(im)
    if channels == 4:  # read_image flattens transparency onto white: the alpha is opaque
        arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return arr


def load_folder(files: list[Path], size: int, channels: int, strict: bool = False) -> tuple[torch.Tensor, list[Path]]:
    """(N, C, size, size) float tensor in [0, 1] and the files kept; unreadable ones skipped."""
    arrays, kept, bad = [], [], []
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Img2GifWarning)
                arrays.append(_load(path, size, channels))
            kept.append(path)
        except InputError as exc:
            if strict:
                raise
            bad.append(str(exc))
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s), e.g. {bad[0]} (use --strict to stop instead)", Img2GifWarning, stacklevel=2)
    if not arrays:
        raise InputError(f"{files[0].parent}: none of the {len(files)} images could be read")
    data = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
    return data, kept


def load_domains(data_dir, start_dir: str = "start", end_dir: str = "end", *, size: int, channels: int,
                 paired: bool, strict: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end images. Paired: the same file names in both folders, in the same order."""
    root = Path(os.fspath(data_dir))
    if not root.is_dir():
        raise InputError(f"{root}: data folder not found")
    start_files, end_files = list_images(root / start_dir), list_images(root / end_dir)
    if paired:
        names_a = {p.name for p in start_files}
        names_b = {p.name for p in end_files}
        if names_a != names_b:
            only_a = sorted(names_a - names_b)[:3]
            only_b = sorted(names_b - names_a)[:3]
            raise InputError(
                f"{root}: paired folders differ: only in {start_dir}/: {only_a or '-'}; only in {end_dir}/: {only_b or '-'}"
            )
    # "skipped N unreadable" is worth saying only if the run goes on: a refusal is one line
    with warnings.catch_warnings(record=True) as skipped:
        warnings.simplefilter("always", Img2GifWarning)
        x0, kept_a = load_folder(start_files, size, channels, strict)
        x1, kept_b = load_folder(end_files, size, channels, strict)
    if paired and [p.name for p in kept_a] != [p.name for p in kept_b]:
        keep = sorted({p.name for p in kept_a} & {p.name for p in kept_b})
        if not keep:
            raise InputError(f"{root}: no pair is readable on both sides ({len(kept_a)} readable in {start_dir}/, "
                             f"{len(kept_b)} in {end_dir}/, none with the same name)")
        ia = [i for i, p in enumerate(kept_a) if p.name in keep]
        ib = [i for i, p in enumerate(kept_b) if p.name in keep]
        x0, x1 = x0[ia], x1[ib]
    for w in skipped:
        warnings.warn(w.message, w.category, stacklevel=2)
    return x0, x1
