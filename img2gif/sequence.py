"""The frames of an animation, rendered when a writer asks for them: memory does not grow
with the number of frames.

A writer asks for frames by rendered index, in playback order (pingpong asks for most twice).
:class:`FrameFeed` renders runs of missing frames in batches and keeps a rendered frame only
while it will be asked for again and a memory budget allows (otherwise it is rendered again),
or when it was pinned (the GIF palette's sample frames, rendered first and used again later).
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, Iterator

import numpy as np

KEEP_BYTES = 256 * 2**20   # rendered frames kept for reuse (pingpong's way back)
BATCH = 8                  # frames asked of the renderer at once ...
BATCH_BYTES = 64 * 2**20   # ... and at most this many bytes of them


class FrameFeed:
    """Frames ``0 .. count-1`` of an animation, each rendered by ``render(times)``.

    Args:
        render: callable, list of times -> iterator of (H, W, 3) uint8 frames in that order.
        times: the animation time of each rendered index.
        shape: (H, W, 3) of every frame.
        progress: optional callable(frames rendered so far) after each frame.
    """

    def __init__(self, render: Callable[[list], Iterable[np.ndarray]], times, shape, progress=None,
                 keep_bytes: int = KEEP_BYTES):
        self._render = render
        self.times = [float(t) for t in times]
        self.shape = tuple(shape)
        self._progress = progress
        self._keep = max(0, int(keep_bytes))
        self._cache: dict[int, np.ndarray] = {}
        self._fixed = False  # frames given in memory: never dropped
        self.rendered = 0

    @classmethod
    def of_list(cls, frames: list[np.ndarray]) -> "FrameFeed":
        """Frames already in memory (the Python API may hand a list to the writers)."""
        source = cls(lambda times: iter(()), range(len(frames)), frames[0].shape, keep_bytes=0)
        source._cache = dict(enumerate(frames))
        source._fixed = True
        return source

    def __len__(self) -> int:
        return len(self.times)

    def pin(self, indices: Iterable[int]) -> list[np.ndarray]:
        """The frames at ``indices``, rendered now; kept for their later use while the
        memory budget allows (else rendered again then)."""
        out = []
        for index, frame in zip(indices, self.frames(list(indices), release=False)):
            out.append(frame)
            if not self._fixed and self._bytes_kept() + frame.nbytes <= self._keep:
                self._cache[index] = frame
        return out

    def frames(self, indices: Iterable[int], release: bool = True) -> Iterator[np.ndarray]:
        """Yield the frames at ``indices`` in that order, rendering what is not kept.

        A frame is kept after its use only if ``indices`` asks for it again later and the
        budget allows; with ``release`` False nothing kept is dropped.
        """
        order = list(indices)
        remaining = Counter(order)
        pending: dict[int, np.ndarray] = {}  # rendered in the current batch, not yet yielded
        for pos, index in enumerate(order):
            if index in self._cache:
                frame = self._cache[index]
            else:
                if index not in pending:
                    batch = self._missing_run(order, pos, pending)
                    for i, rendered in zip(batch, self._render([self.times[i] for i in batch])):
                        self.rendered += 1
                        pending[i] = rendered
                        if self._progress is not None:
                            self._progress(self.rendered)
                frame = pending.pop(index)
            remaining[index] -= 1
            if release and not self._fixed:
                if remaining[index] > 0:
                    if index not in self._cache and self._bytes_kept() + frame.nbytes <= self._keep:
                        self._cache[index] = frame
                else:
                    self._cache.pop(index, None)
            yield frame

    def _bytes_kept(self) -> int:
        return sum(f.nbytes for f in self._cache.values())

    def _missing_run(self, order: list[int], pos: int, pending) -> list[int]:
        """The next frames to render together: consecutive requests not kept, bounded in bytes."""
        most = max(1, min(BATCH, BATCH_BYTES // max(1, int(np.prod(self.shape)))))
        run = []
        for index in order[pos:]:
            if index in self._cache or index in pending or index in run or len(run) >= most:
                break
            run.append(index)
        return run


class StreamedFeed(FrameFeed):
    """Frames that can only be made in order, once (a video being up-converted as it is
    decoded). Writers ask for them in order, which is all it serves; the GIF palette's sample
    (``pin``) comes from ``sample(indices)`` instead (source frames near those times).

    Args:
        stream: iterator of the ``count`` frames, in order.
        shape: (H, W, 3).
        sample: callable, indices -> frames standing in for those (for the GIF palette).
        progress: optional callable(frames made so far).
    """

    def __init__(self, stream: Iterator[np.ndarray], count: int, shape, sample=None, progress=None):
        super().__init__(lambda times: iter(()), range(count), shape, progress=progress, keep_bytes=0)
        self._stream = stream
        self._sample = sample
        self._next = 0

    def pin(self, indices: Iterable[int]) -> list[np.ndarray]:
        indices = list(indices)
        if self._sample is None:
            raise ValueError("this stream has no sample for a palette")
        return list(self._sample(indices))

    def frames(self, indices: Iterable[int], release: bool = True) -> Iterator[np.ndarray]:
        for index in indices:
            if index != self._next:
                raise ValueError(f"a streamed source makes its frames in order: asked for {index}, next is {self._next}")
            frame = next(self._stream)
            self._next += 1
            self.rendered += 1
            if self._progress is not None:
                self._progress(self.rendered)
            yield frame
