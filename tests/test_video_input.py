"""Video input under attack (issue 28): every file here is a real one, crafted with ffmpeg or by
hand, and read by the real ffmpeg; nothing is mocked."""
import os
import resource
import struct
import subprocess
import sys
import threading
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

import img2gif.clip
from img2gif import timing
from img2gif.errors import InputError
from img2gif.clip import open_source
from img2gif.videofile import probe
from img2gif.writers import write_animation

from conftest import blob_image, cli, one_error

FAST = ["--working-size", "32", "-q"]
REPO = Path(__file__).resolve().parents[1]


def ffmpeg(*args):
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)],
                   check=True, timeout=120)


def make_clip(path, *extra, size="64x48", rate="10", duration="0.5"):
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={duration}", *extra,
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path)
    return path


def command(*args, env=None, limit_bytes=None):
    """The installed command in a process of its own (its ffmpeg children inherit any limit)."""
    def limit():
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "img2gif", *map(str, args)], capture_output=True, text=True,
                          timeout=300, preexec_fn=limit, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


# 5. a name is always a file ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["concat:a.mp4|b.mp4", "http://host/x.mp4", "pipe:0.mp4"])
def test_a_name_ffmpeg_reads_as_a_url_is_the_file_of_that_name(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    make_clip(tmp_path / "a.mp4", duration="1")
    make_clip(tmp_path / "b.mp4", duration="1")
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    make_clip(tmp_path / "named.mp4", size="48x32", duration="0.4")
    os.replace(tmp_path / "named.mp4", name)  # 4 frames of 48x32: not a.mp4 + b.mp4, not stdin
    source = open_source(name)
    assert (source.count, source.size) == (4, (48, 32))
    assert len(list(source.frames())) == 4
    result = cli("inspect", name)
    assert result.exit_code == 0 and "48x32" in result.output, result.output
    result = cli("animate", name, "--multiply", "2", "-o", "out.gif", *FAST)
    assert result.exit_code == 0 and "7 frames" in result.output, result.output


def test_a_file_that_points_at_other_files_is_not_followed(tmp_path):
    """A concat script named .mp4: ffmpeg picks its reader by content and would read clip.mp4."""
    make_clip(tmp_path / "clip.mp4")
    script = tmp_path / "script.mp4"
    script.write_text("ffconcat version 1.0\nfile clip.mp4\nfile clip.mp4\n")
    with pytest.raises(InputError, match="not a video ffmpeg can decode"):
        open_source(script)


# 6. the frame limit is applied while counting ------------------------------------------------

def test_the_frame_count_stops_at_the_limit_without_reading_on(tmp_path):
    """A stream that does not end (a FIFO whose writer stays open): a count that read every
    frame before checking would never return; the streamed one stops at the limit."""
    ts = tmp_path / "clip.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=25:duration=12", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-f", "mpegts", ts)
    fifo = tmp_path / "endless.mkv"
    os.mkfifo(fifo)
    release = threading.Event()

    def writer():
        with open(fifo, "wb") as out:
            out.write(ts.read_bytes())
            out.flush()
            release.wait(120)  # held open: no end of file until the test is done

    feeding = threading.Thread(target=writer, daemon=True)
    feeding.start()
    found = []
    counting = threading.Thread(target=lambda: found.append(probe(fifo, 40)), daemon=True)
    counting.start()
    counting.join(60)
    release.set()
    feeding.join(10)
    assert found, "the count did not stop at the limit"
    assert found[0].over_limit and found[0].count == 40


def test_a_clip_over_the_frame_limit_is_refused_and_inspect_says_so(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "long.mp4", size="32x32", rate="25", duration="3")  # 75 frames
    monkeypatch.setattr(img2gif.clip, "MAX_SOURCE_FRAMES", 30)
    line = one_error(cli("animate", clip, "--multiply", "2", "-o", tmp_path / "x.gif", *FAST))
    assert str(clip) in line and "more than 30 frames" in line
    result = cli("inspect", clip)
    assert result.exit_code == 0 and "more than 30" in result.output, result.output


# 7. the pixel limit caps ffmpeg's decoding ---------------------------------------------------

def huge_gif(path):
    """107 bytes: two 1x1 images on a 16000x16000 screen, which ffmpeg decodes as full frames
    (4.5 GB and 30 s uncapped)."""
    frames = [Image.new("P", (1, 1), k) for k in (0, 1)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    data = bytearray(path.read_bytes())
    data[6:10] = struct.pack("<HH", 16000, 16000)  # the logical screen
    path.write_bytes(bytes(data))
    return path


def test_frames_over_the_pixel_limit_are_refused_before_they_are_decoded(tmp_path):
    gif = huge_gif(tmp_path / "huge.gif")
    done = command("animate", gif, "--multiply", "2", "-o", tmp_path / "out.mp4", limit_bytes=1 << 30)  # all of it
    assert done.returncode == 2, done.stderr
    assert "16000x16000" in done.stderr and "pixel limit" in done.stderr and "Traceback" not in done.stderr


def test_frames_that_grow_mid_stream_are_refused(tmp_path, monkeypatch):
    """Six seconds of 64x48 (what ffmpeg's first look sees), then 320x240 frames."""
    small, big = tmp_path / "small.ts", tmp_path / "big.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=6", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-f", "mpegts", small)
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=0.3", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", big)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(small.read_bytes() + big.read_bytes())
    grows = tmp_path / "grows.mkv"
    ffmpeg("-i", joined, "-c", "copy", grows)
    monkeypatch.setenv("IMG2GIF_MAX_PIXELS", "20000")  # 64x48 is within it, 320x240 is not
    with pytest.raises(InputError, match="320x240, over the 20,000-pixel limit"):
        open_source(grows)
    assert "320x240" in one_error(cli("inspect", grows))


# 11. one video stream for everything --------------------------------------------------------

def test_a_file_with_two_video_streams_uses_the_first_and_says_so(tmp_path):
    two = tmp_path / "two.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5",
           "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=2",  # bigger: ffmpeg's own pick
           "-map", "0:v", "-map", "1:v", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", two)
    with pytest.warns(UserWarning, match="2 video streams"):
        source = open_source(two)
    assert (source.count, source.size, source.fps) == (5, (64, 48), 10)
    frames = list(source.frames())
    assert len(frames) == 5 and all(f.shape == (48, 64, 3) for f in frames)
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))  # no frame repeated
    result = cli("animate", two, "--multiply", "2", "-o", f"{tmp_path / 'out'}/", *FAST)
    assert result.exit_code == 0, result.output
    assert "2 video streams; using the first, stream 0:0" in result.output
    assert sorted(n for n in os.listdir(tmp_path / "out") if n.endswith(".png")) == [f"frame_{k:04d}.png" for k in range(9)]
    result = cli("inspect", two)
    assert "0:0 (the first of 2 video streams)" in result.output, result.output


# 12. the rate from the frames' timestamps ----------------------------------------------------

def test_23_976_fps_doubled_is_47_952(tmp_path):
    clip = make_clip(tmp_path / "ntsc.mp4", rate="24000/1001", duration="0.5")
    assert open_source(clip).fps == pytest.approx(24000 / 1001, rel=1e-12)
    result = cli("animate", clip, "--multiply", "2", "-o", tmp_path / "x.mp4", *FAST)
    assert result.exit_code == 0 and "47.952 fps" in result.output, result.output


def test_23_976_fps_in_millisecond_timestamps_is_23_976(tmp_path):
    """MKV rounds each time to 1 ms: the rate of the span would be 23.98x."""
    clip = make_clip(tmp_path / "ntsc.mkv", rate="24000/1001", duration="1")
    assert open_source(clip).fps == pytest.approx(24000 / 1001, rel=1e-12)


def test_stretched_timestamps_set_the_rate(tmp_path):
    """An MKV whose frames are 0.4 s apart while its track says 10 fps."""
    clip = make_clip(tmp_path / "ten.mkv", duration="1")
    stretched = tmp_path / "stretched.mkv"
    ffmpeg("-i", clip, "-c", "copy", "-bsf:v", "setts=ts=TS*4", stretched)
    source = open_source(stretched)
    assert source.fps == pytest.approx(2.5) and source.count == 10 and source.times == ()
    result = cli("animate", stretched, "--fps", "5", "-o", f"{tmp_path / 'out'}/", *FAST)
    assert result.exit_code == 0 and "19 frames" in result.output, result.output  # 3.6 s at 5 fps, + 1


def test_stretched_timestamps_after_b_frames_are_taken_as_even(tmp_path):
    """The same stretch of a clip with B-frames: the rewritten times repeat (0, 1.2, 1.2, 1.2, 1.6 ...)
    in decoded order. A player shows the frames in that order over the span: so does img2gif,
    with a warning, instead of refusing the file."""
    clip = tmp_path / "bframes.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "libx264", "-bf", "3",
           "-pix_fmt", "yuv420p", clip)
    stretched = tmp_path / "stretched.mkv"
    ffmpeg("-i", clip, "-c", "copy", "-bsf:v", "setts=ts=TS*4", stretched)
    assert list(probe(stretched, 100).ticks) != sorted(set(probe(stretched, 100).ticks))  # the broken mux is real
    with pytest.warns(UserWarning, match="do not increase"):
        source = open_source(stretched)
    assert source.fps == pytest.approx(2.5) and source.count == 10
    result = cli("animate", stretched, "--multiply", "2", "-o", f"{tmp_path / 'out'}/", *FAST)
    assert result.exit_code == 0 and "19 frames" in result.output and "5 fps" in result.output, result.output


def test_a_held_last_frame_keeps_its_time(tmp_path):
    """Nine frames 0.1 s apart, then the ninth held 2 s (the file's times read 0, 0.1 ... 0.8, 2.8)."""
    clip = make_clip(tmp_path / "held.mp4", "-vf", "setpts='if(lt(N,9),N,29)/10/TB'", "-fps_mode", "vfr",
                   "-video_track_timescale", "1000", duration="1")
    source = open_source(clip)
    assert source.count == 10 and source.duration == pytest.approx(2.8)  # 0.8 s, then 2 s held
    result = cli("animate", clip, "--fps", "10", "-o", f"{tmp_path / 'out'}/", *FAST)
    assert result.exit_code == 0 and "29 frames" in result.output, result.output


def test_a_1000_fps_clip_is_read_at_1000_fps(tmp_path):
    """img2gif's own 1000 fps output (ffmpeg prints its rate as "1k")."""
    clip = tmp_path / "fast.mp4"
    write_animation(clip, [blob_image(32, 48, shift=(k, 0)) for k in range(6)], timing.playback(6, 1000), fps=1000)
    source = open_source(clip)
    assert source.fps == pytest.approx(1000) and source.count == 6
    assert "1000" in cli("inspect", clip).output


def test_a_1000_fps_encoded_clip_decodes_whole(tmp_path):
    """A 1000 fps H.264 MP4 with B-frames: its frames are numbered on the way out of the decoder,
    and numbering must not make the raw output's timestamps collide (setpts=N at 1/16000 s did)."""
    clip = tmp_path / "k.mp4"
    # testsrc2 moves ten times a second: its frames are taken at 10 fps and stored at 1000
    raw = tmp_path / "frames.rgb"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "16", "-f", "rawvideo", "-pix_fmt", "rgb24", raw)
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x48", "-r", "1000", "-i", raw, "-c:v", "libx264",
           "-pix_fmt", "yuv420p", clip)
    result = cli("animate", clip, "--fps", "1000", "-o", f"{tmp_path / 'out'}/", *FAST)
    assert result.exit_code == 0 and "16 frames" in result.output, result.output


# 13. the frames decoded are the frames counted -----------------------------------------------

def test_a_clip_cut_without_reencoding_counts_its_decoded_frames(tmp_path):
    """-ss ... -c copy keeps the packets back to a keyframe; the player (and ffmpeg) never shows them."""
    long = make_clip(tmp_path / "long.mp4", "-g", "20", size="48x32", duration="4")
    cut = tmp_path / "cut.mp4"
    ffmpeg("-ss", "1.3", "-i", long, "-c", "copy", cut)
    source = open_source(cut)
    assert source.count == 27
    frames = list(source.frames())
    assert len(frames) == 27 and not np.array_equal(frames[-1], frames[-2])  # no frozen tail
    result = cli("animate", cut, "--multiply", "2", "-o", f"{tmp_path / 'out'}/", *FAST)
    assert result.exit_code == 0 and "53 frames" in result.output, result.output


def test_a_truncated_mp4_is_refused_not_padded(tmp_path):
    clip = make_clip(tmp_path / "whole.mp4", "-movflags", "+faststart", duration="2")  # the index first
    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.7)])
    line = one_error(cli("animate", cut, "--multiply", "2", "-o", tmp_path / "x.mp4", *FAST))
    assert str(cut) in line and "cut or corrupt" in line
    assert not (tmp_path / "x.mp4").exists()


# 19. inspect prints only its table -----------------------------------------------------------

def test_inspect_of_a_video_prints_no_ffmpeg_message(tmp_path):
    clip = make_clip(tmp_path / "big.mp4", size="1920x1080", duration="0.2")
    done = command("inspect", clip)
    assert done.returncode == 0, done.stderr
    assert "kill" not in done.stdout + done.stderr and done.stderr.strip() == ""
    assert "1920x1080" in done.stdout
