"""A clip as keyframes at their own times: a video file or a folder of numbered frames.

The source frames are keyframes at their own times: each frame's timestamp in a video file
(a phone's variable-rate clip included), i / --source-fps in a folder; an animated PNG or WebP
counts as a clip. ``open_source`` checks what it can before any frame is decoded (the count,
the size, the rate), and ``target_rate`` turns --fps or --multiply into the output's rate.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import InputError, OptionError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v", ".gif")
MAX_SOURCE_FRAMES = 20_000
MAX_OUTPUT_FRAMES = 100_000

ANIMATED_IMAGE_EXTENSIONS = (".png", ".apng", ".webp")  # a video when animated: read by Pillow (ffmpeg
                                                       # cannot decode animated WebP), alpha kept


def is_video_input(path) -> bool:
    """A folder of frames, a file with a video extension (an animated GIF counts), or an
    animated PNG or WebP."""
    text = os.fspath(path)
    if os.path.isdir(text) or Path(text).suffix.lower() in VIDEO_EXTENSIONS:
        return True
    return Path(text).suffix.lower() in ANIMATED_IMAGE_EXTENSIONS and _frame_count(text) > 1


def _frame_count(path: str) -> int:
    """Frames of an image file from its header (1 where it cannot be read: the image
    reader then says why)."""
    from PIL import Image

    if not os.path.isfile(path):
        return 1
    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:  # noqa: BLE001  any failure: not an animation; read_image gives the error
        return 1


@dataclass(frozen=True)
class VideoSource:
    """What was found at ``path``: a video file or a folder of numbered frames."""

    path: str
    fps: float
    count: int
    size: tuple[int, int]          # (width, height)
    has_audio: bool = False
    files: tuple[str, ...] = ()    # a folder's frames, in order
    longest: int | None = None     # frames are capped to this longer side as they are decoded
    times: tuple[float, ...] = ()  # variable rate: each frame's time (s) from the first; () = i / fps
    alpha: bool = False            # frames are (H, W, 4) straight RGBA (a folder's first frame, or an
                                   # animated PNG/WebP frame, has transparency)
    animated_image: bool = False   # an animated PNG or WebP, decoded by Pillow

    def frame_times(self) -> np.ndarray:
        """(count,) seconds from the first frame."""
        return np.asarray(self.times, np.float64) if self.times else np.arange(self.count) / self.fps

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last."""
        return float(self.times[-1]) if self.times else (self.count - 1) / self.fps

    def positions(self, fps: float, indices) -> np.ndarray:
        """Where output frames ``indices`` (at j / fps) fall among the source frames: i + tau, tau in [0, 1)."""
        j = np.asarray(indices, np.float64)
        if not self.times:  # constant rate: exact, so that a whole multiple hits every source frame
            return j * (self.fps / fps)
        return np.interp(j / fps, self.frame_times(), np.arange(self.count, dtype=np.float64))

    @property
    def period(self) -> float:
        """Seconds from the last frame back to the first in a closed loop: one frame at the
        source's rate (a variable-rate clip's average)."""
        return 1.0 / self.fps

    def clock(self) -> np.ndarray:
        """(count,) each frame's place on the keyframe clock: its index at an even rate (exact,
        so that a whole multiple hits every source frame), its time in seconds otherwise."""
        return self.frame_times() if self.times else np.arange(self.count, dtype=np.float64)

    def output_clock(self, fps: float, count: int) -> np.ndarray:
        """Where output frames 0 ... count - 1 (at j / fps) fall on ``clock()``'s scale."""
        j = np.arange(count, dtype=np.float64)
        return j / fps if self.times else j * (self.fps / fps)

    def loop_end(self) -> float:
        """Where the first frame comes again in a closed loop, on ``clock()``'s scale."""
        return self.duration + self.period if self.times else float(self.count)

    def capped(self, longest: int | None) -> "VideoSource":
        """The same source, its frames capped to ``longest`` (None: as they are)."""
        return replace(self, longest=longest)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames ``frames()`` yields."""
        from .imagefile import capped_size

        return capped_size(*self.size, self.longest)

    def frames(self):
        """The source frames, (H, W, 3) uint8 ((H, W, 4) straight-alpha RGBA where ``alpha``),
        decoded one at a time (capped to ``longest``)."""
        from .imagefile import cap_size

        for frame in self._decoded():
            yield cap_size(frame, self.longest)

    def _decoded(self):
        if self.files:
            yield from _folder_frames(self)
            return
        if self.animated_image:
            yield from _animated_frames(self.path, self.alpha)
            return
        from .videofile import decode

        yield from decode(self.path, self.size, self.count)


def _number(name: str) -> int | None:
    digits = re.findall(r"\d+", Path(name).stem)
    return int(digits[-1]) if digits else None


def _folder_frames(source: VideoSource):
    from .imagefile import read_image, with_alpha

    for name in source.files:
        frame = read_image(name, keep_alpha=source.alpha)
        frame = with_alpha(frame) if source.alpha else frame
        if (frame.shape[1], frame.shape[0]) != source.size:
            raise InputError(f"{name}: {frame.shape[1]}x{frame.shape[0]}, but the first frame is "
                             f"{source.size[0]}x{source.size[1]}; every frame of a folder must be one size")
        yield frame


def _animated_frames(path: str, alpha: bool):
    """The frames of an animated PNG or WebP as Pillow composes them: (H, W, 4) straight RGBA
    where ``alpha``, else (H, W, 3)."""
    from PIL import Image

    from .imagefile import _CORRUPT

    try:
        with Image.open(path) as im:
            for k in range(im.n_frames):
                im.seek(k)
                frame = np.array(im.convert("RGBA"))
                yield frame if alpha else frame[..., :3]
    except (*_CORRUPT, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: truncated or corrupt animation ({exc})") from None


def _open_animated(path: str, source_fps: float | None) -> VideoSource:
    """Probe an animated PNG or WebP: frame count, size, each frame's time (from the
    delays: a delay of 0 is taken as 100 ms, as browsers do) and whether any frame has
    transparency (decoded once here; these are small files, and the alpha decides the
    output before any work)."""
    from PIL import Image

    from .imagefile import _CORRUPT, check_image_size

    delays, alpha = [], False
    try:
        with Image.open(path) as im:
            check_image_size(*im.size, path)
            size, count = im.size, im.n_frames
            if count > MAX_SOURCE_FRAMES:
                raise InputError(f"{path}: {count} frames, over the limit of {MAX_SOURCE_FRAMES}")
            for k in range(count):
                im.seek(k)
                im.load()  # WebP sets a frame's duration only once decoded
                delays.append(int(im.info.get("duration", 0) or 0))
                alpha = alpha or (im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info) and \
                    np.asarray(im.convert("RGBA"))[..., 3].min() < 255
    except InputError:
        raise
    except (*_CORRUPT, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: truncated or corrupt animation ({exc})") from None
    delays = [d if d > 0 else 100 for d in delays]
    stamps = np.concatenate([[0.0], np.cumsum(delays[:-1]) / 1000.0])
    if source_fps is not None:
        fps, times = float(source_fps), ()
    elif not _variable_rate(stamps):  # delays are whole ms: 33, 34, 33 ... is an even 30 fps
        fps, times = _even_rate(count - 1, int(round(stamps[-1] * 1000)), Fraction(1, 1000)), ()
    else:
        fps, times = float((count - 1) / stamps[-1]), tuple(float(t) for t in stamps)
    source = VideoSource(path, fps, count, size, times=times, alpha=alpha, animated_image=True)
    _check_source(source)
    return source


def open_source(path, source_fps: float | None = None) -> VideoSource:
    """Probe ``path`` (a video file or a folder of numbered frames) before any work."""
    text = os.fspath(path)
    if source_fps is not None and not (0.1 <= source_fps <= 1000 and np.isfinite(source_fps)):
        raise OptionError(f"--source-fps must be between 0.1 and 1000, got {source_fps}")
    if os.path.isdir(text):
        return _open_folder(text, source_fps)
    if not os.path.exists(text):
        raise InputError(f"{text}: no such file")
    if not os.path.isfile(text):
        raise InputError(f"{text}: not a regular file")
    if Path(text).suffix.lower() in ANIMATED_IMAGE_EXTENSIONS:
        return _open_animated(text, source_fps)
    from .imagefile import Img2GifWarning
    from .videofile import probe

    found = probe(text, MAX_SOURCE_FRAMES)
    if found.over_limit:
        raise InputError(f"{text}: more than {MAX_SOURCE_FRAMES} frames, over the limit (counting stopped there)")
    if found.video_streams > 1:
        warnings.warn(f"{text}: holds {found.video_streams} video streams; using the first, stream {found.stream} "
                      f"({found.codec})", Img2GifWarning, stacklevel=2)
    fps, times = frame_rate(text, found)
    if source_fps is not None:
        fps, times = float(source_fps), ()
    source = VideoSource(text, fps, found.count, found.size, found.has_audio, times=times)
    _check_source(source)
    return source


def frame_rate(path: str, found) -> tuple[float, tuple[float, ...]]:
    """(frames per second, each frame's time or () where the rate is even), from the decoded
    frames' timestamps: the rate ffmpeg prints is rounded ("23.98", "1k") and says nothing of
    a held or stretched frame."""
    ticks = np.asarray(found.ticks, np.int64) - found.ticks[0]
    if len(ticks) < 2:
        return 1.0, ()  # refused by _check_source: one frame has no rate
    if not np.all(np.diff(ticks) > 0):
        # a broken mux (timestamps rewritten after B-frames, say): players show the frames in
        # their decoded order, so they are taken as even over the span the timestamps give
        span = int(ticks.max() - ticks.min())
        if span <= 0:
            raise InputError(f"{path}: its frames have no increasing timestamps; give --source-fps to set the rate")
        fps = _even_rate(len(ticks) - 1, span, found.time_base)
        from .imagefile import Img2GifWarning

        warnings.warn(f"{path}: its frames' timestamps do not increase (a broken mux); taken as evenly spaced at "
                      f"{fps:.6g} fps (--source-fps sets another rate)", Img2GifWarning, stacklevel=3)
        return fps, ()
    tick = float(found.time_base)
    stamps = ticks * tick
    if _variable_rate(stamps):
        return float((len(ticks) - 1) / stamps[-1]), tuple(float(t) for t in stamps)  # the average rate
    return _even_rate(len(ticks) - 1, int(ticks[-1]), found.time_base), ()


def _even_rate(gaps: int, span: int, time_base: Fraction) -> float:
    """The rate of ``gaps`` even gaps over ``span`` ticks. Timestamps are rounded to a tick
    (MKV/WebM: 1 ms), so a nominal rate (30, 24000/1001 ...) that fits the span to within a
    tick is taken: 23.976, not 23.983."""
    measured = Fraction(gaps) / (span * time_base)
    low, high = Fraction(gaps) / ((span + 1) * time_base), Fraction(gaps) / (max(span - 1, 1) * time_base)
    nominal = [Fraction(round(measured)), Fraction(round(measured * Fraction(1001, 1000)) * 1000, 1001)]
    fitting = [r for r in nominal if r > 0 and low <= r <= high]
    return float(min(fitting, key=lambda r: abs(r - measured)) if fitting else measured)


def _variable_rate(stamps: np.ndarray) -> bool:
    """Frame times that are not an even rate: off it by more than a millisecond or a quarter of
    a frame, whichever is less (timestamps rounded to their time base are not)."""
    even = np.linspace(0.0, stamps[-1], len(stamps))
    tolerance = min(1e-3, 0.25 * stamps[-1] / (len(stamps) - 1))
    return float(np.abs(stamps - even).max()) > tolerance


def _open_folder(folder: str, source_fps: float | None) -> VideoSource:
    from .imagefile import read_image

    if source_fps is None:
        raise OptionError(f"{folder}: a folder of frames has no frame rate; give --source-fps")
    names = sorted(os.listdir(folder))
    files, others = [], []
    for name in names:
        if name.startswith("."):
            continue
        full = os.path.join(folder, name)
        (files if _number(name) is not None and os.path.isfile(full) else others).append(full)
    if others:
        raise InputError(f"{others[0]}: not a numbered frame; a folder of frames holds only numbered images "
                         "(frame_0001.png, ...)")
    files.sort(key=lambda p: (_number(os.path.basename(p)), p))
    if not files:
        raise InputError(f"{folder}: holds no frames")
    # transparency is kept where the first frame has some (then every frame is RGBA; else a later
    # transparent frame is flattened onto white, with a warning, as before)
    first = read_image(files[0], keep_alpha=True)
    source = VideoSource(folder, float(source_fps), len(files), (first.shape[1], first.shape[0]), False, tuple(files),
                         alpha=first.shape[2] == 4)
    _check_source(source)
    return source


def _check_source(source: VideoSource) -> None:
    from .imagefile import max_pixels

    if source.count == 0:
        raise InputError(f"{source.path}: holds no frames")
    if source.count == 1:
        raise InputError(f"{source.path}: holds one frame; raising a frame rate needs two or more")
    if source.count > MAX_SOURCE_FRAMES:
        raise InputError(f"{source.path}: {source.count} frames, over the limit of {MAX_SOURCE_FRAMES}")
    w, h = source.size
    if w * h > max_pixels():
        raise InputError(f"{source.path}: frames of {w}x{h} are over the {max_pixels():,}-pixel limit (IMG2GIF_MAX_PIXELS)")


def target_rate(source: VideoSource, fps: float | None, multiply: int | None, closed: bool = False) -> tuple[float, int]:
    """(output fps, output frame count); frame j is at j / fps from the first source frame.
    ``closed``: the frames fill the time up to where the first frame comes again, one source
    frame period after the last (N source frames x M)."""
    if (fps is None) == (multiply is None):
        raise OptionError("raising a frame rate needs --fps (the new rate) or --multiply (how many times), one of them")
    if multiply is not None:
        if isinstance(multiply, bool) or int(multiply) != multiply or multiply < 2 or multiply > 64:
            raise OptionError(f"--multiply must be a whole number from 2 to 64, got {multiply}")
        fps = source.fps * multiply
    if not (np.isfinite(fps) and fps > 0):
        raise OptionError(f"--fps must be a positive number, got {fps}")
    if fps < source.fps * (1 - 1e-6):
        raise OptionError(f"--fps {fps:g} is below the source's {source.fps:g} fps; this raises frame rates")
    if fps > 1000:
        given = f"--multiply {multiply} makes {fps:g} fps" if multiply is not None else f"got {fps:g}"
        raise OptionError(f"the output rate must be at most 1000 fps; {given}")
    if closed:  # every output time before the first frame's return
        count = int(np.ceil((source.duration + source.period) * fps - 1e-9))
    elif source.times:
        count = int(np.floor(source.duration * fps + 1e-9)) + 1
    else:
        count = int(np.floor((source.count - 1) * fps / source.fps + 1e-9)) + 1
    if count > MAX_OUTPUT_FRAMES:
        raise OptionError(f"{source.path}: {count} output frames, over the limit of {MAX_OUTPUT_FRAMES}")
    return float(fps), count
