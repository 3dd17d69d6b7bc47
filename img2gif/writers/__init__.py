"""Writing animations: one writer per format, found through the ``img2gif.writers`` entry
points (GIF, MP4, WebP, APNG and numbered PNG frames are built in), always atomically.

A writer declares what its format holds (``Capabilities``: alpha, audio, loop count, the
fastest rate, the largest side ...); the request is checked against that before any work, and
nothing else in img2gif tests a format's name. A new format is one module with a writer class
plus one entry point (``base.Writer`` is the contract).

Every writer renders into a temporary file beside the target and renames it into place, so
an interrupted or failed run never leaves a partial file (and a previous file at that path
stays intact until the new one is complete).
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from .. import registry, timing
from ..encoding import Encoding, plays_of
from ..errors import OptionError, OutputError, PluginError
from ..safefile import (  # noqa: F401  (re-exported: the writers' own file-safety helpers)
    atomic_replace_file,
    check_not_an_input,
    check_writable_dir,
    check_writable_file,
    remove_stale_temp_files,
    replace_frames_dir,
    temp_beside,
)
from .base import Capabilities, Writer, Written  # noqa: F401  (the contract)
from .mp4 import has_audio, mp4_size  # noqa: F401  (public helpers)

FOLDER = "frames"  # the built-in writer of an output path that ends in '/' (or an existing folder)


def writer(fmt: str):
    """The writer registered as ``fmt`` (an instance); PluginError if none or it fails to load.
    (The registry caches the import: this is cheap to ask again.)"""
    cls = registry.load("writers", fmt)
    instance = cls()
    if not isinstance(getattr(instance, "capabilities", None), Capabilities):
        raise PluginError(f"writer {fmt!r} declares no capabilities (a img2gif.writers.Capabilities)")
    return instance


def capabilities(fmt: str) -> Capabilities:
    """What the format ``fmt`` holds."""
    return writer(fmt).capabilities


def label(fmt: str) -> str:
    """The format's name as users read it ('GIF', 'PNG frames')."""
    return capabilities(fmt).label or fmt.upper()


def loadable() -> dict[str, Capabilities]:
    """{format: its capabilities} of every registered writer that loads, the project's own
    first; a plugin that fails to load is left out here (``inspect`` lists it)."""
    found: dict[str, Capabilities] = {}
    names = sorted(registry.available("writers").items(), key=lambda kv: not kv[1].provider.startswith("img2gif"))
    for name, _ in names:
        try:
            found[name] = capabilities(name)
        except PluginError:
            continue
    return found


def extensions() -> dict[str, str]:
    """{'.gif': 'gif', ...}: every file extension a loadable writer takes (the first writer
    that claims one has it)."""
    found: dict[str, str] = {}
    for name, caps in loadable().items():
        for ext in caps.extensions:
            found.setdefault(ext.lower(), name)
    return found


def output_format(path) -> str:
    """The writer's name for ``path``: by extension, or 'frames' (a directory, or a path ending in '/')."""
    text = os.fspath(path)
    ext = Path(text).suffix.lower()
    known = extensions()
    # An existing directory named like a file (out.gif/) is refused by check_output,
    # not silently filled with PNG frames; a trailing '/' still asks for frames.
    if text.endswith(("/", os.sep)) or (os.path.isdir(text) and ext not in known):
        return FOLDER
    if ext not in known:
        raise OutputError(f"{text}: unknown output extension {ext or '(none)'!r}; use one of "
                          f"{', '.join(sorted(known))}, or a directory ending in '/'")
    return known[ext]


def check_output(path, inputs=()) -> str:
    """Fail fast, before any work, if ``path`` cannot be written; returns its format.

    ``inputs``: files the run reads; an output that is one of them (or a frames folder
    that holds one) is refused, since writing it would destroy the input.
    """
    fmt = output_format(path)
    target = os.fspath(path).rstrip("/" + os.sep) or os.fspath(path)  # "out/" names the folder out
    if capabilities(fmt).folder:
        check_writable_dir(target)
    else:
        check_writable_file(target)
    check_not_an_input(target, inputs)
    return fmt


def check_frame_size(path, fmt: str, width: int, height: int) -> None:
    """Refuse, before any work, frames larger than the format can hold."""
    caps = capabilities(fmt)
    w, h = mp4_size(width, height) if caps.even_sides else (width, height)
    if w > caps.max_side or h > caps.max_side:
        raise OutputError(f"{os.fspath(path)}: {label(fmt)} frames can be at most {caps.max_side} pixels on a side, "
                          f"these would be {w}x{h}; lower --size or choose another format")


MAX_VIDEO_FPS = 1000.0  # the fastest a video is up-converted to (an animation's own limit is lower)


def check_rate(path, fps: float) -> None:
    """Refuse, before any work, a rate no format plays right: under 0.1 fps (a frame over 10 s:
    holds show one longer) or over 1000 fps."""
    if not (timing.MIN_FPS <= fps <= MAX_VIDEO_FPS):
        raise OptionError(f"{os.fspath(path)}: frames played at {fps:g} fps; the rate must be between "
                          f"{timing.MIN_FPS:g} and {MAX_VIDEO_FPS:g} fps")


def frames_encoded(fmt: str, shown, fps: float, plays: int, rendered: int) -> int:
    """Frames the encoder is given for ``shown`` ((index, seconds) pairs) of ``rendered``
    frames: a folder holds each rendered frame once; a constant-rate encoder is given held
    frames repeated (and an MP4 its N plays one after another); the others store delays."""
    caps = capabilities(fmt)
    if caps.folder:
        return rendered
    if caps.constant_rate:
        repeats = sum(timing.repeat_counts([s for _, s in shown], fps))
        return repeats * (max(1, plays) if caps.plays_in_file else 1)
    return len(shown)


def read_back(path, fmt: str, expected_frames: int | None = None, size=None) -> Written:
    """Open a file just written and say what it holds; OutputError if it is not readable.

    Why: an encoder can exit without an error and still leave an empty or cut file (ffmpeg
    on a full disk did); nothing is renamed into place before it reads back. ``size``: the
    frames' (width, height) as rendered.
    """
    path = Path(os.fspath(path))
    try:
        return writer(fmt).read_back(path, expected_frames, tuple(size) if size else (0, 0))
    except (OutputError, PluginError):
        raise
    except Exception as exc:  # noqa: BLE001  any decoder failure means the file is not good
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OutputError(f"{path}: the {label(fmt)} encoder wrote a file that cannot be read back ({first[:160]})") from None


def write_animation(path, frames, shown: list[tuple[int, float]], *, fps: float, loop: str = "forever",
                    encoding: Encoding | None = None, inputs=(), checked: bool = False, audio_from=None) -> Written:
    """Write ``frames`` played as ``shown`` ((rendered index, seconds) pairs) to ``path``.

    ``frames``: a list of (H, W, 3) uint8 arrays, or a ``sequence.FrameFeed`` that renders
    them as the encoder asks (then no writer holds them all). The format comes from the
    extension (see ``output_format``). ``loop``: forever, once, pingpong (the order is already
    in ``shown``: it loops) or a number of plays; ``encoding``: quality and MP4 codec.
    ``audio_from``: a format with audio gets this file's first audio stream, copied (not re-encoded).
    Returns what the file on disk holds, read back from it.
    """
    from ..sequence import FrameFeed

    encoding = replace(encoding or Encoding(), plays=plays_of(loop)).check()

    # ``checked``: the caller ran check_output before its work (the pipeline does)
    fmt = output_format(path) if checked else check_output(path, inputs)
    check_rate(path, fps)
    if len(frames) == 0:
        raise OutputError(f"{path}: nothing to write (no frames)")
    feed = frames if isinstance(frames, FrameFeed) else FrameFeed.of_list(list(frames))
    h, w = feed.shape[:2]
    check_frame_size(path, fmt, w, h)
    target = Path(os.fspath(path))
    chosen, caps = writer(fmt), capabilities(fmt)
    if caps.folder:
        replace_frames_dir(lambda folder: chosen.write(folder, feed, shown, fps=fps, encoding=encoding), target)
        return Written(fmt, len(feed), len(feed) / fps, (w, h))
    result = []

    def write(tmp: Path) -> None:
        chosen.write(tmp, feed, shown, fps=fps, encoding=encoding)
        if audio_from is not None and caps.audio:
            chosen.add_audio(tmp, audio_from, target)
        result.append(read_back(tmp, fmt, frames_encoded(fmt, shown, fps, encoding.plays, len(feed)), (w, h)))

    try:
        atomic_replace_file(write, target)
    except OutputError as exc:
        text = str(exc)
        raise OutputError(text if text.startswith(os.fspath(target)) else f"{target}: {text}") from None
    return result[0]
