"""Video in: raise the frame rate of a clip (``img2gif.clip``) as it is decoded.

The chain scheduler of ``img2gif.schedule``, which keyframe paths share, with video's policy:
each gap between two keyframes is fitted once (starting from the gap before's field) and
judged, decided (``img2gif.gaps``: cut, crossfade, still or warp) once its neighbours are
fitted, bent at each keyframe by an acceleration made once from the gaps beside it, rendered at
the output times that fall in it, and dropped; only the frames and fits of a few neighbouring
gaps (and of a batch being fitted, ``gap_batch``) are held, so memory does not grow with the
length of the clip. Cuts and crossfades are counted and reported.

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
from itertools import chain, pairwise

import numpy as np

from .clip import VideoSource
from .errors import InputError
from .gaps import (
    STILL_GAP,
    KeyframePlan,
    crossfade,
    gap_kind,
    is_cut,
    is_held,
    plan_keyframes,
)
from .schedule import Gap, KeyframeTensors, WarmFits, acceleration, check_gap_batch, fitted, render_gap


@dataclass
class Report:
    """What the up-conversion did, for the summary line."""

    gaps: int = 0
    cuts: int = 0
    blended: int = 0
    held: int = 0     # source frames dropped as repeats of a held drawing (footage on twos)
    seam: str = ""    # closed loop: how the last frame returns to the first: warped, cut or crossfaded


def upconvert_frames(source: VideoSource, fps: float, count: int, settings=None, device="cpu", mode="blend",
                     report: Report | None = None, progress=None, plan: KeyframePlan | None = None,
                     gap_batch: int = 1):
    """Yield the ``count`` output frames at j / fps, in order, as the source is decoded.

    ``plan``: the keyframes (``plan_keyframes``; read here if None: held frames found, open);
    ``gap_batch``: gaps fitted at once (``schedule.WarmFits.fit_all``; 1: each starts from the one before);
    ``progress(gaps done, gaps in all)`` after each gap; ``report`` is filled as it goes.
    """
    from .fit import FitSettings

    report = report if report is not None else Report()
    settings = settings or FitSettings()
    check_gap_batch(gap_batch)
    plan = plan if plan is not None else plan_keyframes(source)
    report.held = plan.held
    if plan.closed and count > plan.output_count(source, fps):
        raise ValueError(f"a closed loop of these keyframes has {plan.output_count(source, fps)} output frames, "
                         f"asked for {count}")
    keys = plan.clock                      # keyframe k at keys[k]; closed: keys[-1] is the first's return
    total_gaps = len(keys) - 1
    keyframe_count = len(plan.indices)
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
    fits = WarmFits(settings, device, judge=True)
    accelerations: dict[int, object] = {}   # keyframe -> its acceleration, made once, dropped after use
    tensors = KeyframeTensors(device)
    produced = 0

    def make_gap(index, a, b):
        still = still_gaps and is_held(a, b)
        return Gap(index, index, (index + 1) % keyframe_count, a, b, float(keys[index]),
                   float(keys[index + 1] - keys[index]), still=still, fit=STILL_GAP if still else None)

    def decide(gap: Gap, before, after):
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

    def acceleration_at(keyframe: int, before, after):
        if keyframe not in accelerations:
            accelerations[keyframe] = acceleration(before, after)[0]
        return accelerations[keyframe]

    def render(gap: Gap, before, after):
        """The output frames of ``gap``, bent by its fitted neighbours ``before`` and ``after``."""
        nonlocal produced
        wanted = []
        while produced < count and out_gap[produced] == gap.index:
            wanted.append(float(out_tau[produced]))
            produced += 1
        kind = decide(gap, before, after)
        if wanted and kind == "cut":
            for tau in wanted:
                yield gap.a if tau < 0.5 else gap.b
        elif wanted and kind in ("crossfade", "still"):
            for tau in wanted:
                yield crossfade(gap.a, gap.b, tau)
        elif wanted:
            at_a, at_b = acceleration_at(gap.start, before, gap), acceleration_at(gap.end, gap, after)
            yield from render_gap(gap, tensors.get(gap.start, gap.a), tensors.get(gap.end, gap.b), at_a, at_b, wanted, mode)
        if gap.start != 0:  # no later gap bends at its first keyframe (the first: a loop's seam does)
            accelerations.pop(gap.start, None)

    seam = None
    if plan.closed:
        # the seam (last keyframe -> first) is fitted first: the first gap is bent by it and
        # warm-starts from it; it is rendered last
        seam = make_gap(total_gaps - 1, plan.last_frame, first_frame)
        fits.fit(seam)
        report.gaps += 1
    # the clip's gaps, made as its frames are decoded
    clip_gaps = (make_gap(index, a, b) for index, (a, b) in enumerate(pairwise(chain([first_frame], frames))))
    gaps: deque[Gap] = deque()    # fitted gaps not yet rendered, and the one before them
    first_gap = None
    for gap in fitted(clip_gaps, fits, gap_batch):
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
    if gaps:
        yield from render(gaps[-1], gaps[-2] if len(gaps) >= 2 else seam, seam)
    if seam is not None:
        yield from render(seam, gaps[-1] if gaps else None, first_gap)
    if progress is not None:
        progress(total_gaps, total_gaps)
    if produced < count:  # never filled by repeating a frame: the decoder checks its count, so this is a bug
        raise InputError(f"{source.path}: {produced} of {count} output frames were rendered from "
                         f"{len(plan.indices)} keyframes")
