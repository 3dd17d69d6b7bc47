"""Video in: raise the frame rate of a clip (``img2gif.clip``) as it is decoded.

Each gap between two keyframes is fitted once (starting from the gap before's field), decided
(``img2gif.gaps``: cut, crossfade, still or warp) once its neighbours are fitted, bent by its
neighbours' motion (``img2gif.path``), rendered at the output times that fall in it, and
dropped; only the frames and fits of a few neighbouring gaps are held, so memory does not grow
with the length of the clip. Cuts and crossfades are counted and reported.

Closed loops (``closed=True``): the gap from the last keyframe back to the first is one more
gap, one source frame period long, fitted and bent by its neighbours like any other (the first
and last gaps are each other's neighbours), so N source frames at --multiply M give N x M frames
that play round without a jump. A clip exported with both ends (its last 1-3 frames show the
first frame again) returns there instead: those frames are dropped, and the count is that much
less. A seam across a scene cut is a cut, and crossfaded where the warp cannot explain it, by
the same rules as every other gap; either is reported.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .clip import VideoSource
from .errors import InputError
from .gaps import (
    STILL_GAP,
    GapFit,
    KeyframePlan,
    crossfade,
    gap_kind,
    is_cut,
    is_held,
    plan_keyframes,
)


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
                yield crossfade(gap.a, gap.b, tau)
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
