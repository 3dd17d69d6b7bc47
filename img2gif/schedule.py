"""One scheduler for a chain of gaps: keyframe paths (``img2gif.path``) and video (``img2gif.video``).

A chain is keyframes in order, each at a time; a ``Gap`` joins two neighbours. The same three
steps serve both, each done once per gap or keyframe:

- **fit** (``WarmFits``): each gap in order, starting from the gap before's field (motion is
  coherent in time), or from nothing after a gap that cannot lend its motion; or N gaps at a
  time as one batch (``gap_batch``; faster on a CPU, more so on a GPU), each starting from the
  field of the gap before them all. Video also judges
  each fit (``judge=True``: ``gaps.GapFit``) and fits again from nothing when the warm start led
  it astray;
- **bend** (``acceleration``): a keyframe's acceleration from the two gaps beside it, once both
  are fitted, so that motion keeps its speed through the keyframe (see below);
- **render** (``render_gap``): a gap's frames, its fields bent by its two keyframes' accelerations.

What differs is the policy around them: a path warps every gap and holds all of them (any time
may be asked for); video decides per gap (``gaps.gap_kind``: cut, crossfade, still or warp)
and holds only a few neighbours as the clip streams past.

The bend. On its own, a gap's warp moves every point along its own path at its own speed, so
motion would turn and change speed abruptly at each keyframe. At keyframe k the warps of the
gap before and the gap after say where each point was at keyframe k-1 and will be at keyframe
k+1 (f_- and f_+, in keyframe k's pixels), and a quadratic through the three positions
(Xu et al., Quadratic Video Interpolation, NeurIPS 2019) gives each point an acceleration

    a_k = 2 (f_+ h_- + f_- h_+) / (h_+ h_- (h_+ + h_-))      (h_-, h_+: the two gaps' durations)

Gap k's sampling fields are then bent by it, A's side by keyframe k's and B's side by keyframe
k+1's, by an amount that is zero at both keyframes (so every keyframe is still shown exactly):

    A side, tau in [0, 1]:   Phi_tau   - a_k     h_k^2 (tau^2 - tau) / 2
    B side, s = tau - 1:     Phi_s     - a_{k+1} h_k^2 (s^2 + s) / 2

Position and velocity then agree on both sides of each keyframe (to first order). A keyframe
with one neighbour (the ends of an open chain), or beside a gap that cannot lend its motion,
has no acceleration. An acceleration that would fold the warp is halved until it does not (at
most 4 times, else none). The bend is the same whatever unit the durations are in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
import torch

from .errors import OptionError
from .render import ode_fields, render, to_tensor
from .warp import count_folds

if TYPE_CHECKING:  # gaps (and the clip decoding it imports) is read only when a fit is judged
    from .gaps import GapFit

MAX_GAP_BATCH = 64  # gaps fitted as one batch at most: their frames are held until fitted


def check_gap_batch(gap_batch) -> int:
    """``gap_batch`` as a count of gaps fitted at once, 1 to ``MAX_GAP_BATCH`` (OptionError if not)."""
    if isinstance(gap_batch, bool) or not isinstance(gap_batch, int) or not 1 <= gap_batch <= MAX_GAP_BATCH:
        raise OptionError(f"--gap-batch must be a whole number from 1 to {MAX_GAP_BATCH}, got {gap_batch!r}")
    return gap_batch


@dataclass(eq=False)
class Gap:
    """Two neighbouring keyframes of a chain and what was made of the gap between them."""

    index: int             # its place in the chain
    start: int             # keyframe index of A
    end: int               # keyframe index of B (0 for the gap that closes a loop)
    a: np.ndarray
    b: np.ndarray
    t0: float              # the chain's time of A
    duration: float        # the chain's time from A to B (any unit; > 0)
    still: bool = False    # A and B show the same picture: not fitted, shown still
    pair: object = None    # the fitted ``Pair``
    fit: GapFit | None = None  # what the fit left, where it was judged (video)
    kind: str | None = None    # video: "cut", "crossfade", "still" or "warp", once decided

    @property
    def bends_neighbours(self) -> bool:
        """Whether its motion may start the next fit and bend the gaps beside it: fitted, and
        where judged, explained and not a cut's look."""
        if self.pair is None:
            return False
        return self.fit is None or (self.fit.explained and not self.fit.unexplained_change)


class WarmFits:
    """Fits the gaps of a chain in order, each starting from the field of the gap before (or,
    fitted as a batch, of the gap before the batch).

    ``judge``: each fit is judged (``GapFit``); one that a warm start left with a change it
    cannot explain is fitted again from nothing and the better kept (the gap before's motion
    may have led it astray: a sudden fast move), so a cut is decided on a fit of its own.
    """

    def __init__(self, settings, device, judge: bool = False):
        self.settings, self.device, self.judge = settings, device, judge
        self._start = None  # (2, h, w): the field the next gap starts from

    def fit(self, gap: Gap, progress=None) -> None:
        """Fit ``gap`` (a still gap is not fitted, and the next starts from nothing)."""
        self.fit_all([gap], progress)

    def fit_all(self, gaps: list[Gap], progress=None) -> None:
        """Fit consecutive ``gaps`` as one batch (``pair.fit_pairs``). Each starts from the field
        of the gap before them all (one gap: exactly the fit in order); still gaps are not fitted.
        With nothing to start from, the first is fitted alone and the rest from it; settings that
        do not batch (``fit.batches``) fit them in order, as one by one."""
        from .fit import batches
        from .gaps import GapFit
        from .pair import fit_pair, fit_pairs

        count = len(gaps)
        if count > 1 and not batches(self.settings):
            for k, gap in enumerate(gaps):  # no faster as a batch: in order, each from the one before
                self.fit_all([gap], _part(progress, k, 1, count))
            return
        if count > 1 and self._start is None:
            # nothing to start from (the first gap, or after a still gap or a cut): one gap
            # alone on the full schedule, and the rest warm from its motion, as in order
            self.fit_all(gaps[:1], _part(progress, 0, 1, count))
            self.fit_all(gaps[1:], _part(progress, 1, count - 1, count))
            return
        moving = [gap for gap in gaps if not gap.still]
        warm = self._start is not None
        if moving:
            pairs = fit_pairs([(gap.a, gap.b) for gap in moving], self.settings.warm() if warm else self.settings,
                              device=self.device, progress=progress, initial_field=self._start)
            for gap, pair in zip(moving, pairs):
                gap.pair = pair
        for gap in moving if self.judge else ():
            gap.fit = GapFit.of(gap.pair)
            if warm and gap.fit.unexplained_change:
                cold = fit_pair(gap.a, gap.b, self.settings, device=self.device)
                cold_fit = GapFit.of(cold)
                if cold_fit.left < gap.fit.left:
                    gap.pair, gap.fit = cold, cold_fit
        last = gaps[-1]
        self._start = last.pair.fields([1.0])[0] if last.bends_neighbours else None


def fitted(gaps: Iterable[Gap], fits: WarmFits, gap_batch: int = 1, progress=None, count: int = 0) -> Iterator[Gap]:
    """Yield ``gaps`` (any iterable, read only as far as needed) in order, each fitted by
    ``fits``, ``gap_batch`` at a time; ``progress(step, total, loss)`` over ``count`` gaps."""
    batch, first = [], 0
    for gap in gaps:
        batch.append(gap)
        if len(batch) == gap_batch:
            fits.fit_all(batch, _part(progress, first, len(batch), count))
            yield from batch
            first, batch = first + len(batch), []
    if batch:
        fits.fit_all(batch, _part(progress, first, len(batch), count))
        yield from batch


class KeyframeTensors:
    """Keyframe images as tensors on ``device``, made once each; gaps are asked for in order,
    so only the last ``keep`` are held."""

    def __init__(self, device, keep: int = 3):
        self.device, self.keep = device, keep
        self._tensors: dict[int, torch.Tensor] = {}

    def get(self, keyframe: int, image: np.ndarray) -> torch.Tensor:
        """Keyframe ``keyframe`` (whose image is ``image``) as a tensor (``render.to_tensor``)."""
        if keyframe not in self._tensors:
            if len(self._tensors) >= self.keep:
                self._tensors.pop(next(iter(self._tensors)))
            self._tensors[keyframe] = to_tensor(image, self.device)
        return self._tensors[keyframe]


def _part(progress, first: int, size: int, count: int):
    """``progress`` of a fit of gaps ``first`` ... ``first + size - 1`` of ``count``, in
    thousandths of a gap, so that fits of parts of a batch only move it forward."""
    if progress is None:
        return None
    return lambda step, total, loss: progress(first * 1000 + step * size * 1000 // total, count * 1000, loss)


def acceleration(before: Gap | None, after: Gap | None) -> tuple[torch.Tensor | None, int]:
    """(the acceleration (2, h, w) at the keyframe between ``before`` and ``after``, or None;
    how many times it was halved to keep the warp free of folds). None where a side is missing
    or cannot lend its motion."""
    if before is None or after is None or not (before.bends_neighbours and after.bends_neighbours):
        return None, 0
    f_plus = after.pair.fields([-1.0])[0]    # the keyframe's points at the next keyframe
    f_minus = before.pair.fields([1.0])[0]   # ... and at the one before
    hp, hm = after.duration, before.duration
    accel = 2.0 * (f_plus * hm + f_minus * hp) / (hp * hm * (hp + hm))
    if not bool(torch.isfinite(accel).all()):
        return None, 0  # gaps too short for float32 (crafted times): no bend rather than black frames
    checks = _fold_checks(before, after)
    for halved in range(5):
        if not any(count_folds((phi - bend * accel).unsqueeze(0)) > plain for phi, bend, plain in checks):
            return accel, halved
        accel = accel * 0.5
    return None, 5


def _fold_checks(before: Gap, after: Gap):
    """(field, bend factor, its own folds) at the quarter points of the sides of the two gaps
    that the keyframe's acceleration bends: bending must not add folds at any of them
    (mid-gap alone missed a fold at 3/4 on real video)."""
    checks = []
    for gap, sign in ((after, 1.0), (before, -1.0)):
        sides = [sign * q for q in (0.25, 0.5, 0.75)]
        h2 = gap.duration ** 2
        for side, phi in zip(sides, gap.pair.fields(sides)):
            checks.append((phi, 0.5 * h2 * (side * side - abs(side)), count_folds(phi.unsqueeze(0))))
    return checks


def bent_fields(gap: Gap, a: torch.Tensor, at_a: torch.Tensor | None, at_b: torch.Tensor | None):
    """``fields_at`` of a fitted gap (A as the tensor ``a``) bent by its keyframes'
    accelerations ``at_a`` and ``at_b`` (None: not bent on that side)."""
    pair = gap.pair
    base = ode_fields(pair.ode, a, pair.field_size)
    h2 = gap.duration ** 2

    def fields(ts: torch.Tensor) -> torch.Tensor:
        phi = base(ts).clone()
        for i, t in enumerate(ts.tolist()):
            if t > 0 and at_a is not None:      # A's side: tau = t
                phi[i] -= 0.5 * h2 * (t * t - t) * at_a
            elif t < 0 and at_b is not None:    # B's side: s = tau - 1
                phi[i] -= 0.5 * h2 * (t * t + t) * at_b
        return phi

    return fields


def render_gap(gap: Gap, a: torch.Tensor, b: torch.Tensor, at_a, at_b, taus, mode: str):
    """Yield a fitted gap's frames at ``taus`` in [0, 1] (A and B as tensors, see
    ``render.to_tensor``), bent by its keyframes' accelerations."""
    fields = gap.pair.refined(a, b, bent_fields(gap, a, at_a, at_b))  # refined above the working size
    yield from render(fields, a, b, taus, mode=mode, still=gap.pair.still_weight())


def bent_folds(gap: Gap, a: torch.Tensor, at_a, at_b) -> int:
    """Folded pixels of a gap's bent fields, mid-gap and at quarter points, both ways."""
    fields = bent_fields(gap, a, at_a, at_b)
    return sum(count_folds(phi.unsqueeze(0)) for phi in fields(torch.tensor([0.25, 0.5, 0.75, -0.75, -0.5, -0.25])))
