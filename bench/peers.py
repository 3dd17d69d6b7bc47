"""Peers and scoring shared by the bench/ scripts: the shared data sets and their scorers, PSNR,
the crossfade every table is held against, frames written the scorers' way, and ffmpeg.

One definition each, so that a number in BENCHMARKS.md means the same thing in every table.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent   # the repository root
SHARED = ROOT.parent / "shared"                 # ../shared beside the checkout (read-only)


def shared_set(name: str) -> Path:
    """A data set under ../shared/data (vfi-dev, video-dev, video-hd, ...)."""
    return SHARED / "data" / name


def scorer(name: str) -> Path:
    """A scorer script under ../shared/tools (vfi_score.py, video_score.py)."""
    return SHARED / "tools" / name


def run_scorer(tool: Path, set_dir: Path, pred: Path, *extra: str) -> dict:
    """Run a shared scorer (``--set``, ``--pred`` and ``extra``) and return the JSON it prints
    (or writes with ``--out``); exits with its message if it fails."""
    cmd = [sys.executable, str(tool), "--set", str(set_dir), "--pred", str(pred), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tool.name} failed ({done.returncode}): {done.stderr.strip()}")
    if "--out" in extra:
        return json.loads(Path(extra[extra.index("--out") + 1]).read_text())
    return json.loads(done.stdout)


def psnr(x, y, peak: float = 255.0) -> float:
    """PSNR in dB of two arrays (or tensors) of one shape, over all their values; 100 where
    they are equal."""
    x, y = (np.asarray(v, dtype=np.float64) for v in (x, y))
    mse = float(np.mean((x - y) ** 2))
    return 100.0 if mse == 0 else float(10 * np.log10(peak ** 2 / mse))


def crossfade(a: np.ndarray, b: np.ndarray, times) -> list[np.ndarray]:
    """The plain crossfade (1 - t) A + t B at each t: the floor every method is held against."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return [np.rint((1 - t) * a + t * b).clip(0, 255).astype(np.uint8) for t in times]


def save_frames(folder: Path, frames, numbers=None, digits: int = 3) -> Path:
    """``frames`` as folder/frame_NNN.png (the scorers' and a frames folder's layout), numbered
    0, 1, ... or by ``numbers``; quick PNG compression (the files are read once)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in zip(numbers if numbers is not None else range(len(frames)), frames):
        Image.fromarray(frame).save(folder / f"frame_{k:0{digits}d}.png", compress_level=1)
    return folder


def ffmpeg_exe() -> str:
    """The ffmpeg that imageio-ffmpeg ships (the product's own)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def dis_frames(a: np.ndarray, b: np.ndarray, times, preset: str = "medium") -> list[np.ndarray]:
    """OpenCV's DIS optical flow (``preset``: ultrafast, fast, medium), pairwise: the flow both
    ways on gray frames, each in-between at t by backward warping A and B with the linear
    approximation of Super SloMo (Jiang et al., CVPR 2018: F_t0 = -(1-t) t F_01 + t^2 F_10,
    F_t1 = (1-t)^2 F_01 - t (1-t) F_10) and blending them (1 - t, t). Needs opencv (the bench
    extra: pip install -e ".[bench]")."""
    import cv2

    presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
    dis = cv2.DISOpticalFlow_create(presets[preset])
    gray_a, gray_b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
    f01 = dis.calc(gray_a, gray_b, None)
    f10 = dis.calc(gray_b, gray_a, None)
    h, w = gray_a.shape
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    frames = []
    for t in times:
        ft0 = -(1 - t) * t * f01 + t * t * f10
        ft1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
        from_a = cv2.remap(a, grid + ft0, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        from_b = cv2.remap(b, grid + ft1, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        frames.append(np.rint((1 - t) * from_a.astype(np.float64) + t * from_b).clip(0, 255).astype(np.uint8))
    return frames


def pairwise(frames, G: int, method) -> list[np.ndarray]:
    """Every frame of a window from every G-th one: ``method(a, b, times)`` fills each gap."""
    given = frames[::G]
    out = [given[0]]
    for a, b in zip(given, given[1:]):
        out += method(a, b, [j / G for j in range(1, G)]) + [b]
    return out
