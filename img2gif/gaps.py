"""What each gap between two keyframes of a clip is: a cut, a crossfade, a hold, or motion.

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

Held frames (footage on twos or threes): animation, screen captures and game footage show each
drawing for 2 or 3 frames. Warping between two identical frames gives still frames and then a
jump, so such a clip is timed by its drawings instead (``plan_keyframes``): a run of identical
frames (``is_held``) of 2 or 3 frames is one drawing at its first appearance, when the clip
shows that cadence (``HELD_CADENCE``, ``HELD_MIN_HOLDS``); a longer run is a real pause and
keeps every frame. Identical neighbours left as keyframes are never warped between: they stay
still. A closed loop's last keyframes that show the first frame again are dropped
(``KeyframePlan.repeats_first``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clip import VideoSource
from .errors import InputError

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



def _visible(frame: np.ndarray) -> np.ndarray:
    """An RGBA frame as what shows: colour times alpha, then alpha (the colour under
    transparent pixels must not make a cut); an RGB frame as it is."""
    if frame.shape[2] == 3:
        return frame
    colour = (frame[..., :3].astype(np.uint16) * frame[..., 3:] + 127) // 255
    return np.dstack([colour.astype(np.uint8), frame[..., 3]])


def crossfade(a: np.ndarray, b: np.ndarray, tau: float) -> np.ndarray:
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
