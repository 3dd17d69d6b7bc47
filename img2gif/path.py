"""Keyframe paths: one continuous animation through three or more images.

Each gap between neighbouring keyframes gets its own fitted warp (a ``Pair``), fitted in order,
each starting from the gap before's field, and bent at each keyframe by an acceleration from
the gaps beside it so that motion keeps its speed through the keyframe: the chain scheduler of
``img2gif.schedule``, which video shares. A path warps every gap and keeps all of them, so any
time may be asked for. The first and last keyframes of an open path have one neighbour: no
acceleration there, so the first gap starts and the last gap ends on its own warp's motion. A
closed path (``closed=True``) is a cycle: the last keyframe returns to the first, and every
keyframe has two neighbours.
"""
from __future__ import annotations

import torch

from .errors import OptionError
from .fit import FitSettings
from .timing import keyframe_times
from .render import check_mode, to_tensor
from .schedule import Gap, KeyframeTensors, WarmFits, acceleration, bent_folds, check_gap_batch, fitted, render_gap


class KeyframePath:
    """Keyframes ((H, W, 3) uint8, one size), when each is reached, and one fitted Pair per gap."""

    def __init__(self, images, times, pairs, closed: bool, device="cpu"):
        self.images = list(images)
        self.times = list(times)
        self.closed = closed
        self.device = torch.device(device)
        count = len(self.images)
        pairs = list(pairs)
        self.gaps = chain_gaps(self.images, self.times, closed)
        if len(pairs) != len(self.gaps):
            raise ValueError(f"{len(self.gaps)} gaps need as many fitted pairs, got {len(pairs)}")
        for gap, pair in zip(self.gaps, pairs):
            gap.pair = pair
        self.softened = 0  # accelerations halved to keep the warp free of folds
        self.accelerations = []
        for k in range(count):
            before = self.gaps[k - 1] if k > 0 or closed else None
            after = self.gaps[k] if k < len(self.gaps) else None
            accel, halved = acceleration(before, after)
            self.accelerations.append(accel)
            self.softened += halved

    @property
    def pairs(self) -> list:
        """The fitted ``Pair`` of each gap, in order."""
        return [gap.pair for gap in self.gaps]

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
        tensors = KeyframeTensors(self.device)

        def frames(times):
            located = [self.locate(u) for u in times]
            start = 0
            while start < len(located):
                gap_index = located[start][0]
                stop = start
                while stop < len(located) and located[stop][0] == gap_index:
                    stop += 1
                gap = self.gaps[gap_index]
                yield from render_gap(gap, tensors.get(gap.start, gap.a), tensors.get(gap.end, gap.b),
                                      self.accelerations[gap.start], self.accelerations[gap.end],
                                      [tau for _, tau in located[start:stop]], mode)
                start = stop

        return frames

    def folds(self) -> int:
        """Folded pixels of the bent fields, mid-gap and at quarter points, summed over gaps."""
        return sum(bent_folds(gap, to_tensor(gap.a, self.device), self.accelerations[gap.start],
                              self.accelerations[gap.end]) for gap in self.gaps)


def fit_path(images, times=None, closed: bool = False, settings: FitSettings | None = None, device="auto",
             progress=None, gap_batch: int = 1) -> KeyframePath:
    """Fit a keyframe path through ``images`` ((H, W, 3) uint8 arrays of one size).

    ``times``: when each is reached, in [0, 1] (None: evenly spaced; see ``timing.keyframe_times``);
    ``closed``: the path returns to the first image. ``progress(step, total, loss)`` over all
    the gaps' fits together. ``gap_batch``: gaps fitted at once (``schedule.WarmFits.fit_all``;
    1: each starts from the one before).
    """
    from .device import resolve_device

    images = list(images)
    times = keyframe_times(times, len(images), closed)
    for k, image in enumerate(images[1:], start=1):
        if image.shape != images[0].shape:
            raise OptionError(f"keyframe {k + 1} is {image.shape[1]}x{image.shape[0]}, the first is "
                              f"{images[0].shape[1]}x{images[0].shape[0]}; every keyframe must be one size")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    settings = settings or FitSettings()
    check_gap_batch(gap_batch)
    gaps = chain_gaps(images, times, closed)
    for _ in fitted(gaps, WarmFits(settings, dev), gap_batch, progress, len(gaps)):
        pass
    return KeyframePath(images, times, [gap.pair for gap in gaps], closed, dev)


def chain_gaps(images, times, closed: bool) -> list[Gap]:
    """The gaps of a path through ``images`` reached at ``times`` (in [0, 1]); ``closed``: one
    more, from the last image back to the first at 1."""
    count = len(images)
    ends = list(times[1:]) + ([1.0] if closed else [])
    return [Gap(k, k, (k + 1) % count, images[k], images[(k + 1) % count], times[k], ends[k] - times[k])
            for k in range(len(ends))]
