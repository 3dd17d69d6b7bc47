"""The animate pipeline (what to do): files -> images -> fitted warp -> frames -> writer.

How the warp is integrated is the solver's business (``img2gif.solvers``); this module
only decides which frames are wanted and where they go.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from . import timing
from .errors import OptionError
from .fit import FitSettings
from .imagefile import Img2GifWarning, cap_size, match_size, read_image
from .pair import Pair, fit_pair, resolve_device
from .writers import check_output, write_animation

MAX_SIZE = 8192


@dataclass
class AnimationResult:
    """What was written."""

    path: str
    format: str
    frames_rendered: int
    frames_written: int
    fps: float
    duration: float
    size: tuple[int, int]


def read_pair(path_a, path_b, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read A and B; B is resized to A's size if they differ; both capped to ``size``."""
    a = read_image(path_a)
    b = read_image(path_b)
    b = match_size(a, b)
    return cap_size(a, size), cap_size(b, size)


def check_size(size):
    if size is not None and not 2 <= size <= MAX_SIZE:
        raise OptionError(f"--size must be between 2 and {MAX_SIZE}, got {size}")


def animate(
    a=None,
    b=None,
    output="animation.gif",
    *,
    pair: Pair | None = None,
    frames: int | None = None,
    fps: float | None = None,
    duration: float | None = None,
    mode: str = "blend",
    loop: str = "forever",
    hold_start: float = 0.0,
    hold_end: float = 0.0,
    ease: str = "linear",
    size: int | None = None,
    seed: int = 0,
    device: str = "auto",
    settings: FitSettings | None = None,
    progress=None,
) -> AnimationResult:
    """Animate A into B and write ``output`` (.gif, .mp4, .webp, .png, or a directory/).

    Give image paths ``a`` and ``b`` (the warp is fitted), or a fitted ``pair``.
    ``frames``/``fps``/``duration``: any two fix the third (defaults 30 fps, 2 s).
    ``progress(step, total, loss)`` is called while fitting.
    """
    # Everything that can be refused is refused before any work.
    fmt = check_output(output)
    frame_plan = timing.plan(frames, fps, duration)
    timing.ease(0.5, ease)
    timing.playback(2, 1.0, loop, hold_start, hold_end)
    check_size(size)
    dev = resolve_device(device)
    if fmt == "gif" and frame_plan.fps > timing.GIF_MAX_FPS:
        capped = timing.cap_for_gif(frame_plan)
        warnings.warn(
            f"GIF cannot play {frame_plan.fps:g} fps (browsers treat delays under 2/100 s as 1/10 s): "
            f"writing {capped.count} frames at {capped.fps:g} fps over the same {frame_plan.duration:.2f} s; "
            "use .mp4, .webp or .png for higher frame rates",
            Img2GifWarning,
            stacklevel=2,
        )
        frame_plan = capped

    torch.manual_seed(seed)
    if pair is None:
        if a is None or b is None:
            raise OptionError("give two images, or a fitted pair (--from pair.pt)")
        img_a, img_b = read_pair(a, b, size)
        settings = settings or FitSettings(seed=seed)
        pair = fit_pair(img_a, img_b, settings, device=dev, progress=progress)
    else:
        pair = pair.to(dev)
        if size is not None and max(pair.a.shape[:2]) > size:
            pair = Pair(cap_size(pair.a, size), cap_size(pair.b, size), pair.ode, pair.settings, dev)

    times = timing.frame_times(frame_plan.count, ease)
    rendered = pair.frames(times, mode=mode)
    shown = timing.playback(frame_plan.count, frame_plan.fps, loop, hold_start, hold_end)
    write_animation(output, rendered, shown, fps=frame_plan.fps, loop=loop)
    written = len(rendered) if fmt == "frames" else len(shown)
    h, w = rendered[0].shape[:2]
    return AnimationResult(str(output), fmt, len(rendered), written, frame_plan.fps, frame_plan.duration, (w, h))
