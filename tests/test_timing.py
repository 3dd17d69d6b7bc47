import pytest

from img2gif import timing
from img2gif.errors import OptionError


def test_plan_defaults_and_combinations():
    assert timing.plan() == timing.FramePlan(60, 30.0)
    assert timing.plan(fps=60) == timing.FramePlan(120, 60.0)
    assert timing.plan(frames=120, duration=4).fps == 30
    assert timing.plan(frames=7).count == 7
    with pytest.raises(OptionError):
        timing.plan(frames=10, fps=10, duration=1)
    for bad in (dict(frames=1), dict(fps=0), dict(fps=1e6), dict(duration=-1), dict(fps=240, duration=600)):
        with pytest.raises(OptionError):
            timing.plan(**bad)


@pytest.mark.parametrize("n", [2, 3, 17, 60])
@pytest.mark.parametrize("ease", ["linear", "smooth"])
def test_frame_times_exact_ends_and_count(n, ease):
    t = timing.frame_times(n, ease)
    assert len(t) == n and t[0] == 0.0 and t[-1] == 1.0
    assert all(x < y for x, y in zip(t, t[1:]))


@pytest.mark.parametrize("fps, expected_total_cs", [(24, 250), (30, 200), (50, 200), (60, 200)])
def test_gif_delays(fps, expected_total_cs):
    plan = timing.cap_rate(timing.plan(fps=fps, duration=2.0 if fps != 24 else 2.5), timing.GIF_MAX_FPS)
    shown = timing.playback(plan.count, plan.fps)
    delays = timing.gif_delays_cs([s for _, s in shown])
    assert min(delays) >= 2
    assert sum(delays) == expected_total_cs  # accumulated rounding: no drift
    assert max(delays) - min(delays) <= 1
    if fps == 60:
        assert plan.fps == 50 and plan.count == 100
    if fps == 30:
        assert sorted(set(delays)) == [3, 4]
    if fps == 24:
        assert sorted(set(delays)) == [4, 5]


def test_gif_delays_never_below_two_cs():
    assert timing.gif_delays_cs([0.001] * 10) == [2] * 10


def test_playback_holds_and_pingpong():
    shown = timing.playback(4, 10.0, "pingpong", hold_start=1.0, hold_end=0.5)
    assert [i for i, _ in shown] == [0, 1, 2, 3, 2, 1]
    assert shown[0][1] == pytest.approx(1.1) and shown[3][1] == pytest.approx(0.6)
    with pytest.raises(OptionError):
        timing.playback(4, 10.0, "sideways")
    with pytest.raises(OptionError):
        timing.playback(4, 10.0, hold_start=-1)


def test_repeat_counts_for_video():
    assert timing.repeat_counts([0.1, 0.1, 1.1], 10.0) == [1, 1, 11]
