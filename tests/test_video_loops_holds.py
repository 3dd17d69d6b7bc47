"""Video: closed loops (the last frame warped back to the first) and footage on twos (held frames
timed by their drawings), on generated clips of a disc whose every position is known."""
import os

import numpy as np
import pytest
from PIL import Image

from img2gif.errors import InputError
from img2gif.scenes import disc_centre, disc_frame, held_centres, orbit_centres
from img2gif.clip import open_source, target_rate
from img2gif.gaps import HELD_LEVELS, held_score, is_held, plan_keyframes

from conftest import cli, moving_frames, one_error

FAST = ["--working-size", "64", "-q"]


def folder_of(tmp_path, frames, name="clip"):
    folder = tmp_path / name
    folder.mkdir()
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
    return folder


def read_folder(path):
    names = sorted(n for n in os.listdir(path) if n.endswith(".png"))
    return [np.asarray(Image.open(path / n).convert("RGB")) for n in names]


def change(a, b):
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def seam_ratio(frames):
    """The change from the last frame back to the first over the mean change of the other steps."""
    steps = [change(a, b) for a, b in zip(frames, frames[1:])]
    return change(frames[-1], frames[0]) / np.mean(steps)


def seam_move_ratio(frames):
    """The same for the disc's movement (the pixel change saturates once the disc clears its old place)."""
    steps = steps_of_the_disc(frames + frames[:1])
    return steps[-1] / steps[:-1].mean()


def steps_of_the_disc(frames):
    centres = np.array([disc_centre(f) for f in frames])
    return np.hypot(*np.diff(centres, axis=0).T)


def up(tmp_path, folder, *extra, name="out"):
    out = tmp_path / name
    result = cli("animate", folder, "--source-fps", "12", "--multiply", "2", *extra, "-o", f"{out}/", *FAST)
    assert result.exit_code == 0, result.output
    return result.output, read_folder(out)


# --- closed loops -------------------------------------------------------------------------

def test_a_closed_loop_of_a_periodic_clip_plays_round_without_a_jump(tmp_path):
    source = [disc_frame(c) for c in orbit_centres(8)]
    folder = folder_of(tmp_path, source)
    summary, looped = up(tmp_path, folder, "--loop", "closed")
    assert "loop closed (last frame warped back to the first)" in summary
    assert len(looped) == 16  # 8 source frames x 2: the seam's frame fills the time back to the first
    for k, frame in enumerate(source):
        assert np.array_equal(looped[2 * k], frame)
    # the seam's new frame is the disc on its way from the last position back to the first
    x, y = disc_centre(looped[15])
    expected = np.mean([orbit_centres(8)[7], orbit_centres(8)[0]], axis=0)
    assert np.hypot(x - expected[0], y - expected[1]) < 1.5
    assert 0.75 < seam_ratio(looped) < 1.3 and 0.85 < seam_move_ratio(looped) < 1.15
    _, open_ended = up(tmp_path, folder, name="open")  # what the clip gave before: a jump of a whole source step
    assert len(open_ended) == 15 and seam_move_ratio(open_ended) > 1.8


def test_a_loop_exported_with_both_ends_returns_to_its_first_frame(tmp_path):
    source = [disc_frame(c) for c in orbit_centres(8)]
    summary, looped = up(tmp_path, folder_of(tmp_path, source + source[:1]), "--loop", "closed")
    assert "the last 1 frame showed the first again" in summary
    assert len(looped) == 16 and 0.85 < seam_move_ratio(looped) < 1.15  # no frame standing still at the seam


def test_a_seam_across_a_scene_cut_stays_a_cut(tmp_path):
    first = [disc_frame(c) for c in orbit_centres(8)[:3]]
    second = [255 - disc_frame(c) for c in orbit_centres(8)[3:6]]  # another shot
    folder = folder_of(tmp_path, first + second)
    summary, out = up(tmp_path, folder, "--loop", "closed")
    assert "2 scene cuts" in summary and "loop closed across a scene cut" in summary
    assert len(out) == 12
    assert np.array_equal(out[10], second[-1]) and np.array_equal(out[11], first[0])  # nothing between


def test_closed_loop_frame_counts():
    from img2gif.clip import VideoSource

    source = VideoSource("x", 10.0, 8, (64, 48))
    assert target_rate(source, None, 3, closed=True) == (30.0, 24)
    assert target_rate(source, None, 3) == (30.0, 22)
    assert target_rate(source, 25, None, closed=True) == (25.0, 20)  # every time before 0.8 s, when frame 0 comes again


def test_closed_loop_of_two_frames_is_refused(tmp_path):
    folder = folder_of(tmp_path, [disc_frame(c) for c in orbit_centres(8)[:2]])
    line = one_error(cli("animate", folder, "--source-fps", "12", "--multiply", "2", "--loop", "closed",
                         "-o", tmp_path / "x.mp4", *FAST))
    assert line.startswith(f"error: {folder}") and "--loop closed needs 3 or more" in line
    assert not (tmp_path / "x.mp4").exists()


def test_the_api_refuses_a_closed_loop_of_two_frames_too(tmp_path):
    frames = [disc_frame(c) for c in orbit_centres(8)[:2]]
    with pytest.raises(InputError, match="--loop closed needs 3 or more"):
        plan_keyframes(open_source(folder_of(tmp_path, frames), 12), closed=True)


# --- footage on twos ----------------------------------------------------------------------

def test_footage_on_twos_comes_out_even(tmp_path):
    rng = np.random.default_rng(3)
    centres = held_centres(6, hold=2)
    folder = folder_of(tmp_path, [disc_frame(c, noise=2.0, rng=rng) for c in centres])
    summary, even = up(tmp_path, folder)
    assert "5 held frames" in summary  # 6 drawings of 2 frames; the last frame is kept (the clip ends there)
    last_drawing = 2 * 10  # drawing 5 first shows at source frame 10
    steps = steps_of_the_disc(even[:last_drawing + 1])
    assert steps.max() / steps.mean() <= 1.3 and steps.mean() == pytest.approx(1.0, abs=0.15)
    _, old = up(tmp_path, folder, "--keep-held", name="old")
    steps = steps_of_the_disc(old[:last_drawing + 1])
    assert steps.max() / steps.mean() > 1.7  # still, still, then the whole drawing's move


def test_a_real_pause_stays_still(tmp_path):
    rng = np.random.default_rng(4)
    centres = held_centres(6, hold=2, pause_at=2, pause=8)  # drawing 2 is shown 10 frames: 4 to 13
    folder = folder_of(tmp_path, [disc_frame(c, noise=2.0, rng=rng) for c in centres])
    summary, out = up(tmp_path, folder)
    assert "4 held frames" in summary  # drawings 0, 1, 3, 4 (5's last frame ends the clip); the pause's are all kept
    inside = np.array([disc_centre(f) for f in out[8:27]])  # output frames of source frames 4 ... 13
    assert np.abs(inside - inside[0]).max() < 0.05


def test_keyframe_rules(tmp_path):
    a, b, c, d = (disc_frame((12.0 + 4 * k, 24.0)) for k in range(4))
    source = lambda frames, name: open_source(folder_of(tmp_path, frames, name), 12)  # noqa: E731
    # on twos and threes: each drawing at its first frame; the last frame kept
    plan = plan_keyframes(source([a, a, b, b, b, c, c, d, d], "twos"))
    assert plan.indices == (0, 2, 5, 7, 8) and plan.held == 4 and list(plan.clock) == [0, 2, 5, 7, 8]
    # closed: the seam runs from the last drawing, and the first comes again one frame after the last
    plan = plan_keyframes(source([a, a, b, b, c, c, d, d], "closed"), closed=True)
    assert plan.indices == (0, 2, 4, 6) and list(plan.clock) == [0, 2, 4, 6, 8]
    assert np.array_equal(plan.last_frame, d)
    # a loop exported with both ends: the last drawing is the first again, where the loop returns
    plan = plan_keyframes(source([a, a, b, b, c, c, a, a], "both_ends"), closed=True)
    assert plan.indices == (0, 2, 4) and list(plan.clock) == [0, 2, 4, 6] and (plan.held, plan.repeats_first) == (3, 2)
    assert np.array_equal(plan.last_frame, c)
    plan = plan_keyframes(source([a, b, c, d, a], "both_ends_ones"), closed=True)
    assert plan.indices == (0, 1, 2, 3) and list(plan.clock) == [0, 1, 2, 3, 4] and plan.repeats_first == 1
    assert np.array_equal(plan.last_frame, d)
    # ... but a pause at the end stays: it goes on into the first frame's
    plan = plan_keyframes(source([a, b, c, d, a, a, a, a], "pause_at_the_end"), closed=True)
    assert plan.indices == tuple(range(8)) and plan.repeats_first == 0 and plan.clock[-1] == 8
    # two doubled frames among ones are no cadence: every frame stays
    plan = plan_keyframes(source([a, b, b, c, d, d], "ones"))
    assert plan.indices == tuple(range(6)) and plan.held == 0
    # a run of 4 or more is a pause: kept whole, even on twos
    plan = plan_keyframes(source([a, a, b, b, c, c, c, c, c, d, d], "pause"))
    assert plan.indices == (0, 2, 4, 5, 6, 7, 8, 9, 10) and plan.pauses == 1
    assert plan_keyframes(source([a, a, b, b, c, c, d, d], "off"), holds=False).indices == tuple(range(8))


def test_the_held_line_sits_between_noise_and_motion():
    rng = np.random.default_rng(5)
    at = (30.0, 24.0)
    for sigma in (0.0, 1.0, 3.0, 6.0):
        assert is_held(disc_frame(at, noise=sigma, rng=rng), disc_frame(at, noise=sigma, rng=rng))
    for sigma in (0.0, 3.0, 6.0):
        assert not is_held(disc_frame(at, noise=sigma, rng=rng), disc_frame((at[0] + 0.5, at[1]), noise=sigma, rng=rng))
    # a clean frame where a few pixels change is moving (noise does not excuse what it cannot make)
    a = disc_frame(at)
    b = a.copy()
    b[2:6, 2:6] += 8  # inside one block: scores 2
    assert held_score(a, b) < HELD_LEVELS and not is_held(a, b)


def test_an_all_still_clip_is_refused(tmp_path):
    rng = np.random.default_rng(6)
    folder = folder_of(tmp_path, [disc_frame((30, 24), noise=2.0, rng=rng) for _ in range(5)])
    line = one_error(cli("animate", folder, "--source-fps", "12", "--multiply", "2", "-o", tmp_path / "x.gif", *FAST))
    assert line.startswith(f"error: {folder}") and "same picture" in line
    assert not (tmp_path / "x.gif").exists()


def test_keep_held_applies_to_video_only(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(disc_frame((20, 24))).save(a)
    Image.fromarray(disc_frame((24, 24))).save(b)
    line = one_error(cli("animate", a, b, "--keep-held", "-o", tmp_path / "x.gif", *FAST))
    assert "--keep-held applies to a video" in line
    assert not (tmp_path / "x.gif").exists()


# --- both, through a video file -----------------------------------------------------------

def test_an_mp4_on_twos_loops_closed_with_even_motion_all_round(tmp_path):
    """Orbit drawings held 2 frames each, through MP4 (its coding noise on the repeats), as a
    closed loop: every step, the seam's included, the same length."""
    from img2gif import timing
    from img2gif.writers import write_animation

    drawings = orbit_centres(8)
    frames = [disc_frame(c) for c in drawings for _ in range(2)]
    clip = tmp_path / "twos.mp4"
    write_animation(clip, frames, timing.playback(len(frames), 12), fps=12)
    out = tmp_path / "out"
    result = cli("animate", clip, "--multiply", "2", "--loop", "closed", "-o", f"{out}/", *FAST)
    assert result.exit_code == 0, result.output
    assert "8 held frames" in result.output and "loop closed (last frame warped back" in result.output
    looped = read_folder(out)
    assert len(looped) == 32  # 16 source frames x 2
    steps = steps_of_the_disc(looped + looped[:1])  # the last step is the seam
    assert steps.max() / steps.mean() <= 1.3
    assert steps.mean() == pytest.approx(2 * 13 * np.sin(np.pi / 8) / 4, rel=0.1)  # a chord a drawing, in 4 steps


def test_a_variable_rate_clip_loops_closed_one_average_frame_after_its_last(tmp_path):
    import subprocess

    import imageio_ffmpeg

    for k, frame in enumerate(moving_frames(8)):
        Image.fromarray(frame).save(tmp_path / f"f{k}.png")
    clip = tmp_path / "vfr.mp4"  # 4 frames 0.1 s apart, then 4 frames 0.3 s apart: 1.3 s, 7/1.3 fps on average
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-framerate", "10", "-i",
                    str(tmp_path / "f%d.png"), "-vf", "setpts='if(lt(N,4),N,4+(N-4)*3)'",
                    "-fps_mode", "vfr", "-video_track_timescale", "1000", "-c:v", "libx264", "-bf", "0",
                    "-pix_fmt", "yuv444p", "-crf", "0", str(clip)], check=True)
    source = open_source(clip)
    assert target_rate(source, 10, None, closed=True) == (10.0, 15)  # times before 1.3 + 1.3 / 7 s
    out = tmp_path / "out"
    result = cli("animate", clip, "--fps", "10", "--loop", "closed", "-o", f"{out}/", "--working-size", "32", "-q")
    assert result.exit_code == 0, result.output
    frames, decoded = read_folder(out), list(source.frames())
    assert len(frames) == 15
    for i, j in enumerate([0, 1, 2, 3, 4, 7, 10, 13]):  # source frame i is at 0.1 j s
        assert np.array_equal(frames[j], decoded[i]), (i, j)
    assert change(frames[14], decoded[7]) > 0.5 and change(frames[14], decoded[0]) > 0.5  # on the way back
