"""The pipeline's option checks (plan_output): refused before any work, one error each."""
from __future__ import annotations

import pytest

from img2gif import timing
from img2gif.errors import OptionError, OutputError
from img2gif.pipeline import plan_output


def test_a_good_plan(tmp_path):
    plan = plan_output(tmp_path / "a.gif", fps=20, duration=1.5, loop="pingpong", hold_end=0.5, ease="smooth")
    assert plan.format == "gif" and plan.frames.count == 30 and plan.frames.fps == 20
    assert plan.times()[0] == 0.0 and plan.times()[-1] == 1.0
    assert plan.times(-1.0)[-1] == -1.0  # reverse: the way back


@pytest.mark.parametrize("kwargs,match", [
    ({"ease": "bouncy"}, "--ease"), ({"loop": "twice"}, "--loop"), ({"hold_start": -1}, "--hold-start"),
    ({"hold_end": float("nan")}, "--hold-end"), ({"size": 1}, "--size"), ({"fps": 0.01}, "--fps"),
    ({"frames": 1}, "--frames"), ({"frames": 10, "fps": 10, "duration": 1}, "at most two"),
])
def test_bad_options(tmp_path, kwargs, match):
    with pytest.raises(OptionError, match=match):
        plan_output(tmp_path / "a.gif", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_gif_over_50_fps_is_resampled_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="GIF cannot play 60 fps"):
        plan = plan_output(tmp_path / "a.gif", fps=60, duration=2)
    assert plan.frames.fps == timing.GIF_MAX_FPS and plan.frames.count == 100
    assert plan_output(tmp_path / "a.mp4", fps=60, duration=2).frames.count == 120  # other formats keep it


def test_output_checks(tmp_path):
    source = tmp_path / "a.png"
    source.write_bytes(b"an input")
    with pytest.raises(OutputError, match="input"):
        plan_output(source.with_suffix(".gif").parent / "a.png", inputs=[source])
    with pytest.raises(OutputError, match="extension"):
        plan_output(tmp_path / "a.avi")
