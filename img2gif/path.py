"""Keyframe paths: one continuous animation through three or more images.

Each gap between neighbouring keyframes gets its own fitted warp (a ``Pair``), fitted in order,
each starting from the gap before's field (motion is coherent in time). On its own, a gap's
warp moves every point along its own path at its own speed, so motion would turn and change
speed abruptly at each keyframe. The neighbours fix that: at keyframe k the warps of the gap
before and the gap after say where each point was at keyframe k-1 and will be at keyframe
k+1 (f_- and f_+, in keyframe k's pixels), and a quadratic through the three positions
(Xu et al., Quadratic Video Interpolation, NeurIPS 2019) gives each point an acceleration

    a_k = 2 (f_+ h_- + f_- h_+) / (h_+ h_- (h_+ + h_-))      (h_-, h_+: the two gaps' durations)

Gap k's sampling fields are then bent by it, A's side by keyframe k's and B's side by keyframe
k+1's, by an amount that is zero at both keyframes (so every keyframe is still shown exactly):

    A side, tau in [0, 1]:   Phi_tau   - a_k     h_k^2 (tau^2 - tau) / 2
    B side, s = tau - 1:     Phi_s     - a_{k+1} h_k^2 (s^2 + s) / 2

Position and velocity then agree on both sides of each keyframe (to first order). The first
and last keyframes of an open path have one neighbour: no acceleration there, so the first gap
starts and the last gap ends on its own warp's motion. A closed path (``closed=True``) is a
cycle: the last keyframe returns to the first, and every keyframe has two neighbours. An
acceleration that would fold the warp is halved until it does not (at most 4 times, else 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import OptionError
from .fit import FitSettings
from .timing import keyframe_times
from .render import check_mode, ode_fields, render, to_tensor
from .warp import count_folds

@dataclass(frozen=True)
class Gap:
    start: int       # keyframe index of A
    end: int         # keyframe index of B
    t0: float        # path time of A
    duration: float  # path time from A to B


class KeyframePath:
    """Keyframes ((H, W, 3) uint8, one size), when each is reached, and one fitted Pair per gap."""

    def __init__(self, images, times, pairs, closed: bool, device="cpu"):
        self.images = list(images)
        self.times = list(times)
        self.pairs = list(pairs)
        self.closed = closed
        self.device = torch.device(device)
        count = len(self.images)
        ends = self.times[1:] + ([1.0] if closed else [])
        self.gaps = [Gap(k, (k + 1) % count, self.times[k], ends[k] - self.times[k]) for k in range(len(ends))]
        if len(self.pairs) != len(self.gaps):
            raise ValueError(f"{len(self.gaps)} gaps need as many fitted pairs, got {len(self.pairs)}")
        self.softened = 0  # accelerations halved to keep the warp free of folds
        self.accelerations = [self._acceleration(k) for k in range(count)]

    # --- motion through the keyframes --------------------------------------------------------

    def _neighbour_gaps(self, k: int):
        """(gap arriving at keyframe k, gap leaving it), None where there is none."""
        before = k - 1 if k > 0 else (len(self.gaps) - 1 if self.closed else None)
        after = k if k < len(self.gaps) else None
        return before, after

    def _acceleration(self, k: int):
        before, after = self._neighbour_gaps(k)
        if before is None or after is None:
            return None
        f_plus = self.pairs[after].fields([-1.0])[0]    # keyframe k's points at the next keyframe
        f_minus = self.pairs[before].fields([1.0])[0]   # ... and at the one before
        hp, hm = self.gaps[after].duration, self.gaps[before].duration
        accel = 2.0 * (f_plus * hm + f_minus * hp) / (hp * hm * (hp + hm))
        if not bool(torch.isfinite(accel).all()):
            return None  # gaps too short for float32 (crafted times): no bend rather than black frames
        checks = self._fold_checks(before, after)
        for _ in range(5):
            if not any(count_folds((phi - bend * accel).unsqueeze(0)) > plain for phi, bend, plain in checks):
                return accel
            accel = accel * 0.5
            self.softened += 1
        return None

    def _fold_checks(self, before: int, after: int):
        """(field, bend factor, its own folds) at the quarter points of the sides of the two gaps
        that keyframe k's acceleration bends: bending must not add folds at any of them
        (mid-gap alone missed a fold at 3/4 on real video)."""
        checks = []
        for gap_index, sign in ((after, 1.0), (before, -1.0)):
            sides = [sign * q for q in (0.25, 0.5, 0.75)]
            h2 = self.gaps[gap_index].duration ** 2
            for side, phi in zip(sides, self.pairs[gap_index].fields(sides)):
                checks.append((phi, 0.5 * h2 * (side * side - abs(side)), count_folds(phi.unsqueeze(0))))
        return checks

    def _bent_fields(self, gap_index: int, a_tensor):
        """``fields_at`` of one gap with its keyframes' accelerations applied."""
        gap = self.gaps[gap_index]
        base = ode_fields(self.pairs[gap_index].ode, a_tensor, self.pairs[gap_index].field_size)
        at_a, at_b = self.accelerations[gap.start], self.accelerations[gap.end]
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

    # --- frames ------------------------------------------------------------------------------

    def locate(self, u: float) -> tuple[int, float]:
        """(gap index, tau in [0, 1]) of path time ``u`` in [0, 1]."""
        u = min(max(float(u), 0.0), 1.0)
        for index in range(len(self.gaps) - 1, -1, -1):
            if u >= self.gaps[index].t0 - 1e-12:
                gap = self.gaps[index]
                tau = min(1.0, max(0.0, (u - gap.t0) / gap.duration))
                # float error must not turn a keyframe (tau 0 or 1) into a resampled frame
                return index, 0.0 if tau < 1e-9 else 1.0 if tau > 1 - 1e-9 else tau
        return 0, 0.0

    @property
    def shape(self) -> tuple:
        """(H, W, C) of the frames (a ``render.Renderable``)."""
        return self.images[0].shape

    def frame_renderer(self, mode: str = "blend"):
        """A callable, path times in [0, 1] -> iterator of frames (what a FrameFeed asks)."""
        check_mode(mode)
        tensors: dict[int, torch.Tensor] = {}

        def image(k: int) -> torch.Tensor:
            if k not in tensors:
                if len(tensors) >= 3:  # the gaps are asked for in order: keep only the neighbours
                    tensors.pop(next(iter(tensors)))
                tensors[k] = to_tensor(self.images[k], self.device)
            return tensors[k]

        def frames(times):
            located = [self.locate(u) for u in times]
            start = 0
            while start < len(located):
                gap_index = located[start][0]
                stop = start
                while stop < len(located) and located[stop][0] == gap_index:
                    stop += 1
                gap = self.gaps[gap_index]
                a, b = image(gap.start), image(gap.end)
                yield from render(self._bent_fields(gap_index, a), a, b, [tau for _, tau in located[start:stop]], mode=mode,
                                  still=self.pairs[gap_index].still_weight())
                start = stop

        return frames

    def folds(self) -> int:
        """Folded pixels of the bent fields, mid-gap and at quarter points, summed over gaps."""
        total = 0
        for index, gap in enumerate(self.gaps):
            fields = self._bent_fields(index, to_tensor(self.images[gap.start], self.device))
            for phi in fields(torch.tensor([0.25, 0.5, 0.75, -0.75, -0.5, -0.25])):
                total += count_folds(phi.unsqueeze(0))
        return total


def fit_path(images, times=None, closed: bool = False, settings: FitSettings | None = None, device="auto",
             progress=None) -> KeyframePath:
    """Fit a keyframe path through ``images`` ((H, W, 3) uint8 arrays of one size).

    ``times``: when each is reached, in [0, 1] (None: evenly spaced; see ``timing.keyframe_times``);
    ``closed``: the path returns to the first image. ``progress(step, total, loss)`` over all
    the gaps' fits together.
    """
    from .device import resolve_device
    from .pair import fit_pair

    images = list(images)
    times = keyframe_times(times, len(images), closed)
    for k, image in enumerate(images[1:], start=1):
        if image.shape != images[0].shape:
            raise OptionError(f"keyframe {k + 1} is {image.shape[1]}x{image.shape[0]}, the first is "
                              f"{images[0].shape[1]}x{images[0].shape[0]}; every keyframe must be one size")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    settings = settings or FitSettings()
    order = list(range(len(images))) + ([0] if closed else [])
    gaps = len(order) - 1
    pairs, start = [], None
    per_gap = 1000  # progress in thousandths of a gap: the first gap's fit may have more steps than the rest
    for index in range(gaps):
        report = None if progress is None else (
            lambda step, total, loss, index=index: progress(index * per_gap + step * per_gap // total, gaps * per_gap, loss))
        pair = fit_pair(images[order[index]], images[order[index + 1]], settings if start is None else settings.warm(),
                        device=dev, progress=report, initial_field=start)
        pairs.append(pair)
        start = pair.fields([1.0])[0]  # the next gap starts from this one's motion
    return KeyframePath(images, times, pairs, closed, dev)
