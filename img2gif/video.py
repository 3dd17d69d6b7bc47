"""Video in: raise the frame rate of a video file or a folder of numbered frames.

The source frames are keyframes at their own times: each frame's timestamp in a video file
(a phone's variable-rate clip included), i / --source-fps in a folder. The video is decoded,
fitted and rendered as it goes: each gap between two source frames is fitted once (starting
from the gap before's field), bent by its neighbours' motion (``img2gif.path``), rendered at
the output times that fall in it, and dropped; only the frames and fits of a few neighbouring
gaps are held, so memory does not grow with the length of the clip.

Gaps the warp should not bridge:
- a scene cut (mean absolute difference over ``CUT_MEAN_DIFF`` levels, or colour histograms
  further apart than ``CUT_HISTOGRAM_L1``) is never warped across: its output frames are the
  frame before the cut up to the middle of the gap, then the frame after;
- a gap whose fitted warp leaves a plainly visible change unexplained (A and B carried to the
  middle of the gap differ nearly as much as A and B do, and by several levels:
  ``UNEXPLAINED_SHARE`` and ``UNEXPLAINED_LEVELS``) is crossfaded.
Both are counted and reported.
"""
from __future__ import annotations

import os
import re
import warnings
from collections import deque
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import InputError, OptionError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v", ".gif")
MAX_SOURCE_FRAMES = 20_000
MAX_OUTPUT_FRAMES = 100_000
CUT_MEAN_DIFF = 50.0     # levels (0-255), mean over the frame
CUT_HISTOGRAM_L1 = 0.4   # half the L1 distance of the normalised 3 x 32-bin colour histograms
# A gap is crossfaded when its warp leaves most of the frames' difference and what it leaves is
# plainly visible (both: beside a still, noisy rest, a warp that moves a small part right leaves
# most of a small difference, and warping still beats a crossfade there). Chosen on generated
# clips (bench/video_fallback.py): moving scenes leave a share of 0.16-0.35, moving scenes with
# more light on one frame 0.42-0.88 (the closest to the line: what moves is still moved),
# dissolves between still photos 0.92-0.97 and 5.7-56 levels, faint grain 1.0 and 3.5.
UNEXPLAINED_SHARE = 0.9
UNEXPLAINED_LEVELS = 5.0  # mean absolute difference left at the middle of the gap, 0-255


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


def target_rate(source: VideoSource, fps: float | None, multiply: int | None) -> tuple[float, int]:
    """(output fps, output frame count); frame j is at j / fps from the first source frame."""
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
    if source.times:
        count = int(np.floor(source.duration * fps + 1e-9)) + 1
    else:
        count = int(np.floor((source.count - 1) * fps / source.fps + 1e-9)) + 1
    if count > MAX_OUTPUT_FRAMES:
        raise OptionError(f"{source.path}: {count} output frames, over the limit of {MAX_OUTPUT_FRAMES}")
    return float(fps), count


def _visible(frame: np.ndarray) -> np.ndarray:
    """An RGBA frame as what shows: colour times alpha, then alpha (the colour under
    transparent pixels must not make a cut); an RGB frame as it is."""
    if frame.shape[2] == 3:
        return frame
    colour = (frame[..., :3].astype(np.uint16) * frame[..., 3:] + 127) // 255
    return np.dstack([colour.astype(np.uint8), frame[..., 3]])


def _crossfade(a: np.ndarray, b: np.ndarray, tau: float) -> np.ndarray:
    """(1 - tau) a + tau b; RGBA frames mixed premultiplied (no hidden colour shows)."""
    if a.shape[2] == 3:
        return np.round(a * (1 - tau) + b * tau).astype(np.uint8)
    from .render import to_tensor, to_uint8

    return to_uint8(to_tensor(a, "cpu") * (1 - tau) + to_tensor(b, "cpu") * tau)[0]


def is_cut(a: np.ndarray, b: np.ndarray) -> bool:
    """A scene cut between consecutive frames (see the module's thresholds)."""
    a, b = _visible(a), _visible(b)
    if np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() > CUT_MEAN_DIFF:
        return True
    distance = 0.0
    for c in range(3):
        ha = np.bincount(a[..., c].ravel() >> 3, minlength=32) / a[..., c].size
        hb = np.bincount(b[..., c].ravel() >> 3, minlength=32) / b[..., c].size
        distance += 0.5 * np.abs(ha - hb).sum() / 3
    return distance > CUT_HISTOGRAM_L1


def warp_explains(pair) -> bool:
    """Whether the fitted ``pair`` explains its gap: unless it leaves ``UNEXPLAINED_SHARE`` of
    the frames' difference or more and that is ``UNEXPLAINED_LEVELS`` or more (``Pair.residual``)."""
    left, unwarped = pair.residual()
    # frames that do not differ have nothing to explain, whatever the field
    return unwarped == 0 or not (left >= UNEXPLAINED_LEVELS and left >= UNEXPLAINED_SHARE * unwarped)


@dataclass
class Report:
    """What the up-conversion did, for the summary line."""

    gaps: int = 0
    cuts: int = 0
    blended: int = 0


class _Gap:
    def __init__(self, index: int, a: np.ndarray, b: np.ndarray, cut: bool):
        self.index, self.a, self.b, self.cut = index, a, b, cut
        self.pair = None
        self.blend = False


def upconvert_frames(source: VideoSource, fps: float, count: int, settings=None, device="cpu", mode="blend",
                     report: Report | None = None, progress=None):
    """Yield the ``count`` output frames at j / fps, in order, as the source is decoded.

    ``progress(gaps done, gaps in all)`` after each gap; ``report`` is filled as it goes.
    """
    from .fit import FitSettings
    from .pair import fit_pair
    from .path import KeyframePath

    report = report if report is not None else Report()
    settings = settings or FitSettings()
    total_gaps = source.count - 1
    times = source.frame_times() if source.times else np.arange(source.count, dtype=np.float64)  # keyframe clock
    at_source = source.positions(fps, np.arange(count))  # output frame j falls at source frame i + tau
    gaps: deque[_Gap] = deque()    # fitted gaps not yet rendered, and the one before them
    frames = source.frames()
    previous_frame = next(frames, None)
    if previous_frame is None:
        raise InputError(f"{source.path}: holds no frames")
    start_field = None
    produced = 0
    next_index = 0

    def fit(gap: _Gap):
        nonlocal start_field
        if gap.cut:
            report.cuts += 1
            start_field = None
            return
        gap.pair = fit_pair(gap.a, gap.b, settings if start_field is None else settings.warm(), device=device,
                            initial_field=start_field)
        if not warp_explains(gap.pair):
            gap.blend = True
            report.blended += 1
            start_field = None
        else:
            start_field = gap.pair.fields([1.0])[0]

    def render(position: int):
        """The output frames of gaps[position]: bent by the fitted neighbours on either side."""
        nonlocal produced
        gap = gaps[position]
        end = gap.index + 1
        wanted = []
        while produced < count and at_source[produced] <= end + 1e-9:
            tau = float(at_source[produced]) - gap.index
            # float error must not turn a source frame (tau 0 or 1) into a resampled one
            wanted.append(0.0 if abs(tau) < 1e-9 else 1.0 if abs(tau - 1) < 1e-9 else tau)
            produced += 1
        if not wanted:
            return
        if gap.cut:
            for tau in wanted:
                yield gap.a if tau < 0.5 else gap.b
            return
        if gap.blend:
            for tau in wanted:
                yield _crossfade(gap.a, gap.b, tau)
            return
        usable = lambda g: g is not None and g.pair is not None and not g.blend and not g.cut  # noqa: E731
        before = gaps[position - 1] if position > 0 else None
        after = gaps[position + 1] if position + 1 < len(gaps) else None
        chain = [g for g in (before, gap, after) if g is gap or usable(g)]
        if before not in chain:
            before = None
        images = ([before.a] if before else []) + [gap.a, gap.b] + ([after.b] if after in chain else [])
        pairs = [g.pair for g in chain]
        first = gap.index - (1 if before else 0)
        clock = times[first:first + len(images)]
        span = clock[-1] - clock[0]
        keyframe_times = [float((t - clock[0]) / span) for t in clock]
        keyframe_times[0], keyframe_times[-1] = 0.0, 1.0
        here, length = times[gap.index] - clock[0], times[gap.index + 1] - times[gap.index]
        path = KeyframePath(images, keyframe_times, pairs, closed=False, device=device)
        # the path's time of this gap's tau (a variable-rate clip's gaps are of different lengths)
        yield from path.frame_renderer(mode)([float((here + tau * length) / span) for tau in wanted])

    for frame in frames:
        if (frame.shape[1], frame.shape[0]) != source.frame_size:
            raise InputError(f"{source.path}: frame {next_index + 2} is {frame.shape[1]}x{frame.shape[0]}, "
                             f"the first {source.frame_size[0]}x{source.frame_size[1]}")
        gap = _Gap(next_index, previous_frame, frame, is_cut(previous_frame, frame))
        next_index += 1
        fit(gap)
        gaps.append(gap)
        report.gaps += 1
        # the gap before the newest now has both neighbours fitted: render it
        if len(gaps) >= 2:
            yield from render(len(gaps) - 2)
            if progress is not None:
                progress(next_index - 1, total_gaps)
            if len(gaps) > 2:
                gaps.popleft()
        previous_frame = frame
    if gaps:
        yield from render(len(gaps) - 1)
    if progress is not None:
        progress(total_gaps, total_gaps)
    if produced < count:  # never filled by repeating a frame: the decoder checks its count, so this is a bug
        raise InputError(f"{source.path}: {produced} of {count} output frames were rendered from "
                         f"{next_index + 1} source frames")
