"""FrameFeed: frames rendered as a writer asks, each once while memory allows."""
from __future__ import annotations

import numpy as np

from img2gif.sequence import FrameFeed


def counting_render(calls):
    def render(times):
        for t in times:
            calls.append(t)
            yield np.full((4, 5, 3), int(round(t * 10)), np.uint8)
    return render


def test_each_frame_once_and_pingpong_reuses_kept_frames():
    calls = []
    source = FrameFeed(counting_render(calls), [0.0, 0.5, 1.0], (4, 5, 3))
    order = [0, 1, 2, 1]  # pingpong of 3 frames
    got = [int(f[0, 0, 0]) for f in source.frames(order)]
    assert got == [0, 5, 10, 5]
    assert sorted(calls) == [0.0, 0.5, 1.0] and source.rendered == 3


def test_a_small_budget_renders_again_but_stays_correct():
    calls = []
    source = FrameFeed(counting_render(calls), [0.0, 0.5, 1.0], (4, 5, 3), keep_bytes=0)
    got = [int(f[0, 0, 0]) for f in source.frames([0, 1, 2, 1, 0])]
    assert got == [0, 5, 10, 5, 0]
    assert source.rendered == 5  # nothing kept: the way back is rendered again


def test_pinned_frames_are_reused():
    calls = []
    source = FrameFeed(counting_render(calls), [0.0, 0.25, 0.5, 0.75], (4, 5, 3))
    sample = source.pin([0, 2])
    assert [int(f[0, 0, 0]) for f in sample] == [0, 5]
    assert [int(f[0, 0, 0]) for f in source.frames([0, 1, 2, 3])] == [0, 2, 5, 8]
    assert source.rendered == 4


def test_progress_and_a_list_source():
    seen = []
    source = FrameFeed(counting_render([]), [0.0, 1.0], (4, 5, 3), progress=seen.append)
    list(source.frames([0, 1]))
    assert seen == [1, 2]
    frames = [np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)]
    fixed = FrameFeed.of_list(frames)
    assert len(fixed) == 2 and fixed.shape == (2, 2, 3)
    for _ in range(2):  # asked twice: still there
        assert [int(f.max()) for f in fixed.frames([1, 0, 1])] == [1, 0, 1]
