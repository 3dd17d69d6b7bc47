"""The writer contract: what a format can hold (``Capabilities``) and what was written."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Capabilities:
    """What a format holds; the request is checked against it before any work.

    extensions: the file names it is chosen by ('.gif'); empty for a folder of files.
    folder: it writes a folder (numbered files), not one file.
    alpha: frames with transparency are kept (else refused, or composited onto --background).
    audio: it can carry the source video's sound (``add_audio``).
    lossless: --quality has no effect.
    loop_count: it stores how many times to play (else it plays once; players loop it).
    max_fps: the fastest it plays (None: any rate img2gif writes); a faster animation is
        sampled at max_fps over the same duration, with a warning that gives max_fps_reason.
    max_side: the largest side in pixels its encoder accepts.
    even_sides: frames are padded to even sides (yuv420p).
    constant_rate: the encoder is given frames at one rate, holds repeated (else delays are stored).
    plays_in_file: N plays are laid one after another in the file (it cannot store a count).
    merges_repeats: identical neighbouring frames are stored once, with a longer delay.
    options: the encoding options it takes beyond --quality (codec, dither, alpha_threshold).
    label: the name users read in messages ('GIF', 'PNG frames').
    stores_every_pixel: each frame's pixels are stored about whole (no motion coding): a long
        animation at a large size is warned about before any work.
    """

    extensions: tuple = ()
    folder: bool = False
    alpha: bool = False
    audio: bool = False
    lossless: bool = False
    loop_count: bool = True
    max_fps: float | None = None
    max_fps_reason: str = ""
    max_side: int = 2**31 - 1
    even_sides: bool = False
    constant_rate: bool = False
    plays_in_file: bool = False
    merges_repeats: bool = False
    options: tuple = ()
    label: str = ""
    stores_every_pixel: bool = False


@dataclass(frozen=True)
class Written:
    """What is in the file on disk, read back after writing it."""

    format: str
    frames: int          # frames in the file (GIF/WebP/APNG merge identical neighbours)
    seconds: float       # how long one play lasts
    size: tuple[int, int]
    audio: bool = False  # an MP4 holds an audio stream (read from the file, not the plan)


@runtime_checkable
class Writer(Protocol):
    """A format (entry-point group ``img2gif.writers``; the entry point's name is the format's).

    ``capabilities``: a ``Capabilities``.
    ``write(tmp, feed, shown, *, fps, encoding)``: a complete file at ``tmp`` (a folder for
    ``folder`` writers) from a ``sequence.FrameFeed``, played as ``shown`` ((index, seconds)
    pairs); frames are asked for as they are encoded.
    ``read_back(path, expected_frames, size) -> Written``: open what was written and say what
    it holds; ``OutputError`` if it cannot be read (nothing is renamed into place before this).
    ``expected_frames``: what the encoder was given (a writer that cannot merge repeats may
    check it); ``size``: the frames' (width, height). Not asked of a ``folder`` writer.
    ``add_audio(video, source, target)``: only where ``capabilities.audio``; ``source`` is the
    input video whose sound is copied.
    """

    capabilities: Capabilities

    def write(self, tmp: Path, feed, shown, *, fps: float, encoding) -> None:
        ...

    def read_back(self, path: Path, expected_frames: int | None, size) -> Written:
        ...


def read_with_pillow(path: Path, fmt: str) -> Written:
    """Frames and total delay of an animated image Pillow opens (WebP, APNG)."""
    from PIL import Image

    with Image.open(path) as im:
        n = getattr(im, "n_frames", 1)
        total_ms = 0
        for k in range(n):
            im.seek(k)
            im.load()  # WebP sets a frame's duration only once decoded
            total_ms += int(im.info.get("duration", 0))
        return Written(fmt, n, total_ms / 1000.0, im.size)
