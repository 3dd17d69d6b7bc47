"""``mp4``: H.264 or H.265 video through ffmpeg; the only format that carries sound."""
from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import numpy as np

from .. import ffmpeg, timing
from ..errors import OutputError
from ..imagefile import Img2GifWarning
from ..safefile import temp_beside
from .base import Capabilities, Written


def mp4_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides: the MP4's size (the last row/column is repeated)."""
    return width + width % 2, height + height % 2


class Mp4Writer:
    capabilities = Capabilities(extensions=(".mp4",), audio=True, loop_count=False, max_side=16384, even_sides=True,
                                constant_rate=True, plays_in_file=True, options=("codec",), label="MP4")

    def write(self, tmp, feed, shown, *, fps, encoding):
        if feed.shape[2] != 3:  # the pipeline refuses this before any work (or composites onto --background)
            raise OutputError("MP4 has no alpha: composite the frames onto a background first (--background COLOUR)")
        exe = ffmpeg.find()
        if exe is None:
            raise OutputError("MP4 needs ffmpeg (from imageio-ffmpeg), which is missing on this platform")
        h, w = feed.shape[:2]
        (pw, ph) = mp4_size(w, h)
        pad_h, pad_w = ph - h, pw - w
        # a video plays once (players loop it): N plays are written one after another
        shown = list(shown) * max(1, encoding.plays)

        def chunks():
            for fr, n in zip(feed.frames([i for i, _ in shown]), timing.repeat_counts([s for _, s in shown], fps)):
                fr = np.pad(fr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") if (pad_h or pad_w) else fr
                data = np.ascontiguousarray(fr).tobytes()
                for _ in range(n):
                    yield data

        codec = encoding.mp4_encoder()
        tag = ["-tag:v", "hvc1"] if codec == "libx265" else []  # hvc1: what Apple's players want
        quiet = ["-x265-params", "log-level=error"] if codec == "libx265" else []
        ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{pw}x{ph}", "-r", f"{fps:.6g}", "-i", "-",
                    "-c:v", codec, "-pix_fmt", "yuv420p", "-crf", str(encoding.mp4_crf()), *quiet, *tag,
                    "-movflags", "+faststart", "-f", "mp4", ffmpeg.input_name(tmp)], chunks())

    def read_back(self, path, expected_frames, size):
        import imageio_ffmpeg

        # the container's packets, counted without decoding: a cut or empty file fails here
        count, seconds = imageio_ffmpeg.count_frames_and_secs(ffmpeg.input_name(path))
        if expected_frames is not None and count != expected_frames:
            raise OutputError(f"{path}: the MP4 encoder wrote {count} of {expected_frames} frames")
        return Written("mp4", int(count), float(seconds), tuple(mp4_size(*size)), has_audio(path))

    def add_audio(self, video: Path, source, target: Path) -> bool:
        """``source``: the input video whose sound is copied."""
        return copy_audio(video, source, target)


def copy_audio(video: Path, source, target: Path) -> bool:
    """Put ``source``'s first audio stream into the MP4 ``video`` (copied, not re-encoded), at
    the source's own offset from its first video frame; returns whether it did.

    Only a stream the MP4 cannot hold (A-law, ...) leaves the video without sound, with a
    warning: the frames are never lost for the sound. Any other failure (a full disk) is a
    failed write (OutputError). The muxed file is a temp file of ``target`` (safefile's scheme:
    a short name, removed on any exit, and by the next write of ``target`` after a SIGKILL).
    """
    exe = ffmpeg.find()
    source_name = ffmpeg.input_name(source)
    refused = _mp4_cannot_hold_audio(exe, source_name)
    if refused:
        warnings.warn(f"{os.fspath(source)}: its audio cannot go into an MP4 ({refused}); written without audio",
                      Img2GifWarning, stacklevel=3)
        return False
    # our video starts at 0: the audio moves by the source's first video time, so that the
    # two keep the offset they had (audio that came before the first frame is cut)
    start = _first_video_time(exe, source_name)
    shift = ["-itsoffset", f"{-start:.6f}"] if start else []
    muxed = temp_beside(target)
    try:
        ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", ffmpeg.input_name(video),
                    *shift, "-i", source_name, "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
                    "-movflags", "+faststart", "-f", "mp4", ffmpeg.input_name(muxed)], iter(()))
        os.replace(muxed, video)
    except OutputError as exc:  # the stream was accepted above: this is a failed write
        reason = str(exc).split("): ", 1)[-1]
        raise OutputError(f"{target}: cannot write (copying the audio: {reason})") from None
    finally:
        if muxed.exists():
            muxed.unlink()
    return True


def _mp4_cannot_hold_audio(exe: str, source_name: str) -> str | None:
    """Why the MP4 muxer refuses the first audio stream of ``source_name``, or None if it takes it.

    Asked of the muxer itself, writing a moment of the stream to the null device: nothing of
    the output's disk is involved, so a later failure of the real copy is a write failure.
    """
    done = subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", source_name,
                           "-map", "0:a:0", "-c", "copy", "-t", "0.1", "-f", "mp4", "-y", os.devnull],
                          capture_output=True, timeout=120)
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
    found = next((line.split("] ", 1)[-1] for line in lines if "codec not currently supported" in line), None)
    return (found or (lines[0] if lines else "refused by the MP4 muxer"))[:160]


def _first_video_time(exe: str, source_name: str) -> float:
    """Seconds from the start of ``source_name``'s timeline to its first video frame, as ffmpeg
    reads the file (the same clock the audio copy shifts). The earliest of the first packets:
    frames are stored in decoding order, not shown order."""
    done = subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", source_name,
                           "-map", "0:v:0", "-c", "copy", "-frames:v", "16", "-f", "framecrc", "-"],
                          capture_output=True, timeout=120)
    base, stamps = None, []
    for line in done.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            num, _, den = line.split(":", 1)[1].strip().partition("/")
            base = int(num) / int(den)
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) >= 3 and fields[0] == "0" and fields[2].lstrip("-").isdigit():
                stamps.append(int(fields[2]))
    return min(stamps) * base if stamps and base else 0.0


def has_audio(path) -> bool:
    """Whether the file at ``path`` holds an audio stream (ffmpeg's own listing of it)."""
    exe = ffmpeg.find()
    if exe is None:
        return False
    done = subprocess.run([exe, "-hide_banner", "-nostdin", "-i", ffmpeg.input_name(path)], capture_output=True, timeout=120)
    return any(line.lstrip().startswith("Stream #") and ": Audio:" in line
               for line in done.stderr.decode(errors="replace").splitlines())
