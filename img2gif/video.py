"""Video in: raise the frame rate of a video file or a folder of numbered frames.

The source frames are keyframes at their own times: each frame's timestamp in a video file
(a phone's variable-rate clip included), i / --source-fps in a folder. The video is decoded,
fitted and rendered as it goes: each gap between two source frames is fitted once (starting
from the gap before's field), bent by its neighbours' motion (``img2gif.path``), rendered at
the output times that fall in it, and dropped; only the frames and fits of a few neighbouring
gaps are held, so memory does not grow with the length of the clip.

Gaps the warp should not bridge (``gap_kind``), decided after each gap is fitted, never on
the raw difference of its frames (a fast pan or a close object differs as much as a cut does):
- a scene cut is never warped across: its output frames are the frame before the cut up to
  the middle of the gap, then the frame after. A cut is a change the motion cannot explain
  (A and B carried to the middle of the gap still differ by ``CUT_LEVELS`` or more) that is not
  the same picture changed (their correlation is ``CUT_CORRELATION`` or less: a flash, a fade or
  a dissolve keeps it high) and that stands out among its neighbours (its distance from the
  same picture, one minus the correlation, is ``CUT_RATIO`` times the gaps' either side, as
  PySceneDetect's adaptive detector compares a frame with its neighbours): fast motion that
  the fit misses is missed on the gaps around it as well;
- a gap whose fitted warp leaves a plainly visible change unexplained (A and B carried to the
  middle of the gap differ nearly as much as A and B do, and by several levels:
  ``UNEXPLAINED_SHARE`` and ``UNEXPLAINED_LEVELS``) is crossfaded: a dissolve, a flash.
Both are counted and reported.

Held frames (footage on twos or threes): animation, screen captures and game footage show each
drawing for 2 or 3 frames. Warping between two identical frames gives still frames and then a
jump, so such a clip is timed by its drawings instead (``plan_keyframes``): a run of identical
frames (``is_held``) of 2 or 3 frames is one drawing at its first appearance, when the clip
shows that cadence (``HELD_CADENCE``, ``HELD_MIN_HOLDS``); a longer run is a real pause and
keeps every frame. Identical neighbours left as keyframes are never warped between: they stay
still.

Closed loops (``closed=True``): the gap from the last keyframe back to the first is one more
gap, one source frame period long, fitted and bent by its neighbours like any other (the first
and last gaps are each other's neighbours), so N source frames at --multiply M give N x M frames
that play round without a jump. A clip exported with both ends (its last 1-3 frames show the
first frame again) returns there instead: those frames are dropped, and the count is that much
less. A seam across a scene cut is a cut, and crossfaded where the warp cannot explain it, by
the same rules as every other gap; either is reported.
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
# The raw test of a cut: a two-frame clip has no neighbours to compare a gap with, so there a cut
# must also look like one (with the motion rule too, never alone)
CUT_MEAN_DIFF = 50.0     # levels (0-255), mean over the frame
CUT_HISTOGRAM_L1 = 0.4   # half the L1 distance of the normalised 3 x 32-bin colour histograms
# A cut (``gap_kind``). Chosen on generated pairs (BENCHMARKS.md, "Scene cuts decided on motion", seeds 0-7),
# never on the benchmark sets: two scenes spliced leave 43-80 levels at a correlation of
# -0.02-0.60; moving scenes, fast pans, zooms and close objects 4-33 levels (fast pans of a third
# of the frame down to a correlation of 0.15); dissolves 0.71-0.96 and flashes 0.53-0.99. The
# correlation alone does not separate them, which is why a cut must also stand out from its
# neighbours: a flash frame's two gaps are each other's neighbour, and fast motion lasts.
CUT_LEVELS = 10.0        # mean absolute difference left at the middle of the gap, 0-255
CUT_CORRELATION = 0.65   # correlation of A and B carried to the middle (Pair.agreement), at most
CUT_RATIO = 2.5          # 1 - correlation, at least this many times the neighbouring gaps' mean
# A gap is crossfaded when its warp leaves most of the frames' difference and what it leaves is
# plainly visible (both: beside a still, noisy rest, a warp that moves a small part right leaves
# most of a small difference, and warping still beats a crossfade there). Chosen on generated
# clips (BENCHMARKS.md, "The video path, measured as shipped"): moving scenes leave a share of 0.16-0.35, moving scenes with
# more light on one frame 0.42-0.88 (the closest to the line: what moves is still moved),
# dissolves between still photos 0.92-0.97 and 5.7-56 levels, faint grain 1.0 and 3.5.
UNEXPLAINED_SHARE = 0.9
UNEXPLAINED_LEVELS = 5.0  # mean absolute difference left at the middle of the gap, 0-255
# Two frames are the same drawing when no 8 x 8 block of their (gray) difference averages more
# than the line: averaging a block takes noise down 8 times and leaves an edge that moved by
# one pixel at an eighth of its contrast. The line follows the pair's own noise (the robust std
# of the pixel difference, which a moving part of the frame does not raise): HELD_FLOOR plus
# HELD_PER_NOISE of it, at most HELD_LEVELS. Chosen on generated clips (BENCHMARKS.md, "What interpolation users ask for"):
# a frame repeated under noise of std 1-6 levels scores 0.3-2.0, straight and through MP4, 0.7
# or more under its line (1.25-3.0); a textured disc moved by half a pixel scores 5.7 or more, a
# photo panned by a pixel 9.6 or more; ffmpeg's clean testsrc at 64x48 and 23.976 fps (a few
# pixels change a frame) scores 1.75-2.0 against a line of 1.0-1.5: moving.
HELD_BLOCK = 8
HELD_FLOOR = 1.0
HELD_PER_NOISE = 0.5
HELD_LEVELS = 3.0
HELD_MAX_RUN = 3      # a drawing shown 2-3 frames is a hold; 4 or more frames is a real pause
HELD_CADENCE = 0.5    # ... when at least this share of the drawings that are not pauses is held,
HELD_MIN_HOLDS = 3    # and at least this many (two doubled frames are not yet a cadence)


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


@dataclass(frozen=True)
class GapFit:
    """What a gap's fit leaves (``Pair.residual``, ``Pair.agreement``); a gap of identical
    frames has left = unwarped = 0 and agreement 1."""

    left: float
    unwarped: float
    agreement: float

    @classmethod
    def of(cls, pair) -> "GapFit":
        return cls(*pair.residual(), pair.agreement())

    @property
    def unexplained_change(self) -> bool:
        """Left plainly visible and not the same picture: what a cut leaves, were it alone."""
        return self.left >= CUT_LEVELS and self.agreement <= CUT_CORRELATION

    @property
    def explained(self) -> bool:
        return _explains(self.left, self.unwarped)


STILL_GAP = GapFit(0.0, 0.0, 1.0)


def gap_kind(fit: GapFit, neighbours, looks_like_cut: bool = False) -> str:
    """"cut", "crossfade" or "warp" for a fitted gap, given its neighbouring gaps' fits (the gap
    before and after it, where they exist; ``looks_like_cut``: the raw test of its frames, used
    only when it has no neighbour to stand out from). See the module's docstring."""
    if fit.unexplained_change:
        # how far A and B carried to the middle are from the same picture, against the gaps beside
        apart = [1.0 - n.agreement for n in neighbours]
        stands_out = (1.0 - fit.agreement) >= CUT_RATIO * (sum(apart) / len(apart)) if apart else looks_like_cut
        if stands_out:
            return "cut"
    return "warp" if fit.explained else "crossfade"


def _explains(left: float, unwarped: float) -> bool:
    # frames that do not differ have nothing to explain, whatever the field
    return unwarped == 0 or not (left >= UNEXPLAINED_LEVELS and left >= UNEXPLAINED_SHARE * unwarped)


def warp_explains(pair) -> bool:
    """Whether the fitted ``pair`` explains its gap: unless it leaves ``UNEXPLAINED_SHARE`` of
    the frames' difference or more and that is ``UNEXPLAINED_LEVELS`` or more (``Pair.residual``)."""
    return _explains(*pair.residual())


def held_score(a: np.ndarray, b: np.ndarray) -> float:
    """The largest mean difference (levels, gray) over ``HELD_BLOCK`` x ``HELD_BLOCK`` blocks
    of two frames: small for the same drawing under noise, large where anything moved."""
    diff = a.astype(np.float32).mean(axis=2) - b.astype(np.float32).mean(axis=2)
    block = max(1, min(HELD_BLOCK, *diff.shape))
    h, w = diff.shape[0] // block * block, diff.shape[1] // block * block
    means = diff[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    return float(np.abs(means).max())


def noise_level(a: np.ndarray, b: np.ndarray) -> float:
    """The robust std (1.4826 x the median absolute deviation) of two frames' gray difference:
    their noise, however much of the frame moves (a median ignores the moving part)."""
    diff = a.astype(np.float32).mean(axis=2) - b.astype(np.float32).mean(axis=2)
    return 1.4826 * float(np.median(np.abs(diff - np.median(diff))))


def held_line(a: np.ndarray, b: np.ndarray) -> float:
    """The largest ``held_score`` two frames of the same drawing have, given their noise."""
    return min(HELD_LEVELS, HELD_FLOOR + HELD_PER_NOISE * noise_level(a, b))


def is_held(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``b`` shows the same drawing as ``a`` (identical within noise)."""
    return held_score(a, b) <= held_line(a, b)


@dataclass(frozen=True)
class KeyframePlan:
    """Which source frames are keyframes, and where each sits on the source's ``clock()``."""

    indices: tuple[int, ...]   # source frames kept, in order
    clock: np.ndarray          # their places on the clock; closed: one more, the first's return
    closed: bool = False
    held: int = 0              # frames dropped as repeats of a held drawing
    pauses: int = 0            # runs of 4+ identical frames kept as real pauses
    holds: bool = True         # held frames looked for; False: every frame its own moment (the old timing)
    last_frame: np.ndarray | None = None  # closed: the last keyframe, fitted first (the seam)
    repeats_first: int = 0     # closed: frames dropped from the end because they show the first frame again

    def output_count(self, source: VideoSource, fps: float) -> int:
        """Closed: the output frames at j / fps before the first frame comes again (``clock[-1]``)."""
        end = float(self.clock[-1]) * (1.0 if source.times else 1.0 / source.fps)  # seconds
        return int(np.ceil(end * fps - 1e-9))


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first frame, length) of each run of identical frames; ``flags[i]``: frame i + 1 repeats i."""
    runs, start = [], 0
    for i, same in enumerate(flags):
        if not same:
            runs.append((start, i + 1 - start))
            start = i + 1
    runs.append((start, len(flags) + 1 - start))
    return runs


def plan_keyframes(source: VideoSource, closed: bool = False, holds: bool = True) -> KeyframePlan:
    """Read the clip once (one frame held at a time) and choose its keyframes.

    ``holds``: a clip on twos or threes (``HELD_CADENCE`` of its drawings, and at least
    ``HELD_MIN_HOLDS``, shown for 2 or 3 frames) is timed by its drawings, each at its first
    appearance: what an exposure sheet means, and what a capture of a game or screen shows (a frame is on screen from when it is
    made), so drawings made at an even pace come out evenly spaced, whatever mix of twos and
    threes holds them. Runs of 4 or more frames are pauses and keep every frame; the last frame
    is kept (the output ends where the source does) unless the loop is closed, where the seam
    runs from the last drawing to the first. Refuses a clip whose every frame is the same.
    """
    # the frames a closed loop's seam may start from, kept as they pass: the last drawing's first
    # frame (its repeats dropped), and where the last drawing repeats the first, the frame before it
    # and the drawing before's first frame
    flags, first, previous, last_run, before_run, run_before = [], None, None, None, None, None
    for frame in source.frames():
        first = frame if first is None else first
        if previous is not None:
            flags.append(is_held(previous, frame))
        if previous is None or not flags[-1]:
            run_before, before_run, last_run = last_run, previous, frame
        previous = frame
    if flags and all(flags):
        raise InputError(f"{source.path}: every frame shows the same picture (nothing moves); there is "
                         "nothing to interpolate")
    keep = list(range(source.count))
    held = pauses = 0
    if holds and flags:
        runs = _runs(flags)
        drawings = [length for _, length in runs if length <= HELD_MAX_RUN]
        short = [length for length in drawings if length >= 2]
        pauses = sum(1 for _, length in runs if length > HELD_MAX_RUN)
        if len(short) >= HELD_MIN_HOLDS and len(short) >= HELD_CADENCE * len(drawings):
            keep = []
            for start, length in runs:
                keep.extend([start] if 2 <= length <= HELD_MAX_RUN else range(start, start + length))
            if not closed and keep[-1] != source.count - 1:
                keep.append(source.count - 1)
            held = source.count - len(keep)
    loop_end, repeats_first = source.loop_end(), 0
    ends = _runs(flags)[-1][0] if flags else source.count
    if closed and flags and source.count - ends <= HELD_MAX_RUN and is_held(previous, first):
        # a loop exported with both ends: its last drawing is the first again, which is where the
        # loop returns to (kept, its repeat would stand still for a frame at the seam); a pause at
        # the end (4 or more frames) stays, and so still across the seam
        repeats_first = source.count - ends
        loop_end = float(source.clock()[ends])
        keep = [k for k in keep if k < ends]
        held = source.count - repeats_first - len(keep) if held else 0
    if closed and len(keep) < 3:
        raise InputError(f"{source.path}: {len(keep)} frames to loop through; --loop closed needs 3 or more")
    clock = source.clock()[keep]
    last_frame = None
    if closed:
        clock = np.append(clock, loop_end)
        if repeats_first:
            last_frame = before_run if keep[-1] == source.count - repeats_first - 1 else run_before
        else:
            last_frame = previous if keep[-1] == source.count - 1 else last_run
    return KeyframePlan(tuple(keep), clock, closed, held, pauses, holds, last_frame, repeats_first)


@dataclass
class Report:
    """What the up-conversion did, for the summary line."""

    gaps: int = 0
    cuts: int = 0
    blended: int = 0
    held: int = 0     # source frames dropped as repeats of a held drawing (footage on twos)
    seam: str = ""    # closed loop: how the last frame returns to the first: warped, cut or crossfaded


class _Gap:
    def __init__(self, index: int, a: np.ndarray, b: np.ndarray, still: bool = False):
        self.index, self.a, self.b, self.still = index, a, b, still
        self.pair = None
        self.fit = STILL_GAP   # what the fit left (GapFit)
        self.kind = None       # "cut", "crossfade" or "warp": decided when its neighbours are fitted

    @property
    def bends_neighbours(self) -> bool:
        """Whether its motion may bend the gaps beside it: fitted, explained, not a cut's look."""
        return self.pair is not None and self.fit.explained and not self.fit.unexplained_change


def upconvert_frames(source: VideoSource, fps: float, count: int, settings=None, device="cpu", mode="blend",
                     report: Report | None = None, progress=None, plan: KeyframePlan | None = None):
    """Yield the ``count`` output frames at j / fps, in order, as the source is decoded.

    ``plan``: the keyframes (``plan_keyframes``; read here if None: held frames found, open);
    ``progress(gaps done, gaps in all)`` after each gap; ``report`` is filled as it goes.
    """
    from .fit import FitSettings
    from .pair import fit_pair
    from .path import KeyframePath

    report = report if report is not None else Report()
    settings = settings or FitSettings()
    plan = plan if plan is not None else plan_keyframes(source)
    report.held = plan.held
    if plan.closed and count > plan.output_count(source, fps):
        raise ValueError(f"a closed loop of these keyframes has {plan.output_count(source, fps)} output frames, "
                         f"asked for {count}")
    keys = plan.clock                      # keyframe k at keys[k]; closed: keys[-1] is the first's return
    total_gaps = len(keys) - 1
    kept = set(plan.indices)
    # output frame j falls in gap out_gap[j] at out_tau[j] in [0, 1]
    at = source.output_clock(fps, count)
    out_gap = np.clip(np.searchsorted(keys, at, side="right") - 1, 0, total_gaps - 1)
    out_tau = (at - keys[out_gap]) / (keys[out_gap + 1] - keys[out_gap])
    # float error must not turn a source frame (tau 0 or 1) into a resampled one
    out_tau = np.where(np.abs(out_tau) < 1e-9, 0.0, np.where(np.abs(out_tau - 1) < 1e-9, 1.0, out_tau))
    # identical neighbours left as keyframes (a pause) are shown still, never warped (a fit of
    # nothing, bent by moving neighbours, would wobble): with held frames looked for; a plan
    # with ``holds=False`` is the old timing, kept for comparison
    still_gaps = plan.holds

    def keyframes():
        for k, frame in enumerate(source.frames()):
            if (frame.shape[1], frame.shape[0]) != source.frame_size:
                raise InputError(f"{source.path}: frame {k + 1} is {frame.shape[1]}x{frame.shape[0]}, "
                                 f"the first {source.frame_size[0]}x{source.frame_size[1]}")
            if k in kept:
                yield frame

    frames = keyframes()
    first_frame = next(frames, None)
    if first_frame is None:
        raise InputError(f"{source.path}: holds no frames")
    start_field = None
    produced = 0

    def make_gap(index, a, b):
        return _Gap(index, a, b, still_gaps and is_held(a, b))

    def fit(gap: _Gap):
        nonlocal start_field
        if gap.still:  # nothing moves: no fit (and no field to start the next gap from)
            start_field = None
            return
        warm = start_field is not None
        gap.pair = fit_pair(gap.a, gap.b, settings.warm() if warm else settings, device=device, initial_field=start_field)
        gap.fit = GapFit.of(gap.pair)
        if warm and gap.fit.unexplained_change:
            # the gap before's motion may have led the fit astray (a sudden fast move): a cut
            # is decided on a fit of its own
            cold = fit_pair(gap.a, gap.b, settings, device=device)
            cold_fit = GapFit.of(cold)
            if cold_fit.left < gap.fit.left:
                gap.pair, gap.fit = cold, cold_fit
        start_field = gap.pair.fields([1.0])[0] if gap.bends_neighbours else None

    def decide(gap: _Gap, before, after):
        """Cut, crossfade or warp, now that the gaps beside it are fitted; counted."""
        if gap.kind is None:
            if gap.still:
                gap.kind = "still"
            else:
                neighbours = [g.fit for g in (before, after) if g is not None and g is not gap]
                gap.kind = gap_kind(gap.fit, neighbours, looks_like_cut=not neighbours and is_cut(gap.a, gap.b))
                report.cuts += gap.kind == "cut"
                report.blended += gap.kind == "crossfade"
            if gap is seam:
                report.seam = {"cut": "cut", "crossfade": "crossfaded"}.get(gap.kind, "warped")
        return gap.kind

    def usable(g):
        return g is not None and g.bends_neighbours

    def render(gap: _Gap, before, after):
        """The output frames of ``gap``, bent by its fitted neighbours ``before`` and ``after``."""
        nonlocal produced
        wanted = []
        while produced < count and out_gap[produced] == gap.index:
            wanted.append(float(out_tau[produced]))
            produced += 1
        kind = decide(gap, before, after)
        if not wanted:
            return
        if kind == "cut":
            for tau in wanted:
                yield gap.a if tau < 0.5 else gap.b
            return
        if kind in ("crossfade", "still"):
            for tau in wanted:
                yield _crossfade(gap.a, gap.b, tau)
            return
        before = before if usable(before) else None
        after = after if usable(after) else None
        chain = [g for g in (before, gap, after) if g is not None]
        images = ([before.a] if before else []) + [gap.a, gap.b] + ([after.b] if after else [])
        lengths = [float(keys[g.index + 1] - keys[g.index]) for g in chain]
        clock = np.concatenate([[0.0], np.cumsum(lengths)])
        span = clock[-1]
        keyframe_times = [float(t / span) for t in clock]
        keyframe_times[0], keyframe_times[-1] = 0.0, 1.0
        here, length = clock[1 if before else 0], lengths[1 if before else 0]
        path = KeyframePath(images, keyframe_times, [g.pair for g in chain], closed=False, device=device)
        # the path's time of this gap's tau (a variable-rate clip's gaps are of different lengths)
        yield from path.frame_renderer(mode)([float((here + tau * length) / span) for tau in wanted])

    seam = None
    if plan.closed:
        # the seam (last keyframe -> first) is fitted first: the first gap is bent by it and
        # warm-starts from it; it is rendered last
        seam = make_gap(total_gaps - 1, plan.last_frame, first_frame)
        fit(seam)
        report.gaps += 1
    gaps: deque[_Gap] = deque()    # fitted gaps not yet rendered, and the one before them
    first_gap = None
    previous_frame = first_frame
    for index, frame in enumerate(frames):
        gap = make_gap(index, previous_frame, frame)
        fit(gap)
        gaps.append(gap)
        first_gap = first_gap or gap
        report.gaps += 1
        # the gap before the newest now has both neighbours fitted: render it
        if len(gaps) >= 2:
            yield from render(gaps[-2], gaps[-3] if len(gaps) >= 3 else seam, gaps[-1])
            if progress is not None:
                progress(gaps[-2].index + 1, total_gaps)
            if len(gaps) > 2:
                gaps.popleft()
        previous_frame = frame
    if gaps:
        yield from render(gaps[-1], gaps[-2] if len(gaps) >= 2 else seam, seam)
    if seam is not None:
        yield from render(seam, gaps[-1] if gaps else None, first_gap)
    if progress is not None:
        progress(total_gaps, total_gaps)
    if produced < count:  # never filled by repeating a frame: the decoder checks its count, so this is a bug
        raise InputError(f"{source.path}: {produced} of {count} output frames were rendered from "
                         f"{len(plan.indices)} keyframes")
