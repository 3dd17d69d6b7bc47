"""Audio/video sync after up-conversion of a variable-frame-rate clip with sound (issue 28).

    python bench/audio_sync.py                      # 60 s clip, --multiply 2 (~3 min on 2 CPU cores)
    python bench/audio_sync.py --video-start 1.0    # the video starts 1 s after the sound
    python bench/audio_sync.py --seconds 20 --multiply 3

The clip is made with the ffmpeg binary: a 64x48 test pattern at a base of 30 fps, of which an
irregular 4 of every 11 frames are kept (gaps of 1, 2, 3 or 4 base frames: a variable rate,
11 fps on average) with each timestamp as it was; every 5 s (at 1.5 s, 6.5 s, ...) one kept
frame is white, and the sound (AAC) clicks at the same moment. ``--video-start`` moves the
video's first frame later (positive) or the sound's (negative) in the container, the two
still in sync. The CLI up-converts it (``img2gif animate clip.mp4 --multiply N``), and each
flash's first bright frame and each click's start are found on the output's own timeline
(ffmpeg's showinfo and silencedetect, edit lists honoured). Reported per event: click minus
flash, in the source and in the output, and the drift: the output's last events against
its first. A flash is no scene cut (the same picture, lit: ``img2gif.gaps.gap_kind``): its
gaps are warped or crossfaded, so its first bright frame lands within an output frame of the
source's.
Results: bench/out/audio_sync.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, ROOT  # noqa: E402
from peers import ffmpeg_exe  # noqa: E402

BASE_FPS = 30
PERIOD_FRAMES = 150   # a flash and a click every 5 s
FLASH_FRAME = 45      # ... at 1.5 s into each period
CLICK_SECONDS = 0.02


def make_clip(folder: Path, seconds: float, video_start: float) -> Path:
    """The variable-rate clip with its clicks (see the module's text)."""
    exe = ffmpeg_exe()
    video, audio, clip = folder / "v.mp4", folder / "a.m4a", folder / "clip.mp4"
    flash = f"eq(mod(n\\,{PERIOD_FRAMES})\\,{FLASH_FRAME})"
    keep = f"lt(mod(n*7\\,11)\\,4)+{flash}"  # irregular gaps; the flash frame always kept
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc=size=64x48:rate={BASE_FPS}:duration={seconds}",
                    "-vf", f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='{flash}',select='{keep}'",
                    "-fps_mode", "vfr", "-video_track_timescale", "90000", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(video)], check=True)
    at = FLASH_FRAME / BASE_FPS
    period = PERIOD_FRAMES / BASE_FPS
    # the sound's own clock runs from its first sample: its clicks fall on the video's flashes
    click = (f"if(between(mod(t-({video_start})\\,{period})\\,{at}\\,{at + CLICK_SECONDS})"
             f"\\,sin(2*PI*1000*t)\\,0)")
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"aevalsrc={click}:s=48000:d={seconds + max(0.0, video_start)}", "-c:a", "aac", str(audio)], check=True)
    video_shift, audio_shift = max(0.0, video_start), max(0.0, -video_start)
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-itsoffset", str(video_shift), "-i", str(video),
                    "-itsoffset", str(audio_shift), "-i", str(audio), "-map", "0:v", "-map", "1:a", "-c", "copy",
                    str(clip)], check=True)
    return clip


def flashes_and_clicks(path: Path) -> tuple[list[float], list[float]]:
    """Each flash's first bright frame and each click's start (s), on the file's one timeline."""
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", f"file:{os.path.abspath(path)}",
                          "-filter_complex", "[0:v:0]showinfo[v];[0:a:0]silencedetect=n=-30dB:d=0.05[a]",
                          "-map", "[v]", "-map", "[a]", "-f", "null", "-"], capture_output=True).stderr.decode(errors="replace")
    flashes, bright_before = [], False
    for m in re.finditer(r"pts_time:\s*([-\d.e]+).*?mean:\[(\d+)", err):
        bright = int(m.group(2)) > 200
        if bright and not bright_before:
            flashes.append(float(m.group(1)))
        bright_before = bright
    clicks = [float(t) for t in re.findall(r"silence_end: ([-\d.e]+)", err)]
    return flashes, clicks


def offsets(path: Path) -> list[float]:
    """Click minus flash (s) for each flash."""
    flashes, clicks = flashes_and_clicks(path)
    # each flash with its nearest click (silencedetect also ends a silence at the stream's end)
    nearest = [min(clicks, key=lambda c: abs(c - f)) - f for f in flashes] if clicks else []
    return [round(d, 4) for d in nearest if abs(d) < 0.5 * PERIOD_FRAMES / BASE_FPS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--multiply", type=int, default=2)
    parser.add_argument("--video-start", type=float, default=0.0)
    parser.add_argument("--working-size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="img2gif-sync-") as work:
        folder = Path(work)
        clip = make_clip(folder, args.seconds, args.video_start)
        out = folder / "out.mp4"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "img2gif", "animate", str(clip), "--multiply", str(args.multiply),
                               "--working-size", str(args.working_size), "-q", "-o", str(out)],
                              capture_output=True, text=True, env=env)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"img2gif failed ({done.returncode}): {done.stderr.strip()}")
        source, output = offsets(clip), offsets(out)
    head, tail = output[:3], output[-3:]
    result = {
        "clip_seconds": args.seconds, "multiply": args.multiply, "video_start": args.video_start,
        "summary": done.stderr.strip().splitlines()[-1], "run_seconds": round(seconds, 1),
        "source_click_minus_flash": source, "output_click_minus_flash": output,
        "drift_last_vs_first": round(sum(tail) / len(tail) - sum(head) / len(head), 4) if output else None,
        "worst_output_offset": max((abs(v) for v in output), default=None),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "audio_sync.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
