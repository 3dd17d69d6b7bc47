"""``y4m``: an img2gif writer (entry-point group ``img2gif.writers``) of YUV4MPEG2 video.

Raw 4:4:4 frames (BT.601, full range) at a constant rate, the format x264, ffmpeg, mpv and
most encoders read from a pipe: hand img2gif's frames to an encoder img2gif does not ship.
A writer declares what its format holds (``img2gif.writers.Capabilities``); img2gif checks a
request against that before any work (alpha is refused or composited onto --background, a
play count is refused, ...), writes to a temporary file and renames it only after
``read_back`` has found the frames it expected.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from img2gif import timing
from img2gif.writers import Capabilities, Written

# RGB -> YCbCr, BT.601 full range (JPEG's): exact enough for 8 bits, and simple to invert
_TO_YUV = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


class Y4mWriter:
    capabilities = Capabilities(extensions=(".y4m",), loop_count=False, constant_rate=True, plays_in_file=True,
                                label="Y4M")

    def write(self, tmp, feed, shown, *, fps, encoding):
        h, w = feed.shape[:2]
        rate = Fraction(fps).limit_denominator(1001)
        shown = list(shown) * max(1, encoding.plays)  # no play count: N plays one after another
        with open(tmp, "wb") as out:
            out.write(f"YUV4MPEG2 W{w} H{h} F{rate.numerator}:{rate.denominator} Ip A1:1 C444 XCOLORRANGE=FULL\n".encode())
            for frame, repeats in zip(feed.frames([i for i, _ in shown]), timing.repeat_counts([s for _, s in shown], fps)):
                planes = to_yuv(frame).transpose(2, 0, 1).tobytes()
                for _ in range(repeats):
                    out.write(b"FRAME\n")
                    out.write(planes)

    def read_back(self, path, expected_frames, size):
        data = path.read_bytes()
        header, _, body = data.partition(b"\n")
        fields = {f[:1]: f[1:] for f in header.split()[1:]}
        if not header.startswith(b"YUV4MPEG2 ") or b"W" not in fields or b"H" not in fields:
            raise ValueError("no YUV4MPEG2 header")
        w, h = int(fields[b"W"]), int(fields[b"H"])
        num, den = (int(x) for x in fields[b"F"].split(b":"))
        frame_bytes = len(b"FRAME\n") + 3 * w * h
        count, rest = divmod(len(body), frame_bytes)
        if rest or (expected_frames is not None and count != expected_frames):
            raise ValueError(f"{count} whole frames and {rest} bytes over, expected {expected_frames} frames")
        return Written("y4m", count, count * den / num, (w, h))


def to_yuv(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, 3) uint8 Y, Cb, Cr."""
    yuv = frame[..., :3].astype(np.float64) @ _TO_YUV.T
    yuv[..., 1:] += 128
    return np.clip(np.rint(yuv), 0, 255).astype(np.uint8)


def read_frames(path) -> list[np.ndarray]:
    """The RGB frames of a file this writer wrote (for tests and a quick look)."""
    data = open(path, "rb").read()
    header, _, body = data.partition(b"\n")
    fields = {f[:1]: f[1:] for f in header.split()[1:]}
    w, h = int(fields[b"W"]), int(fields[b"H"])
    size = len(b"FRAME\n") + 3 * w * h
    inverse = np.linalg.inv(_TO_YUV)
    frames = []
    for k in range(len(body) // size):
        planes = np.frombuffer(body[k * size + 6:(k + 1) * size], np.uint8).reshape(3, h, w).transpose(1, 2, 0)
        yuv = planes.astype(np.float64) - [0, 128, 128]
        frames.append(np.clip(np.rint(yuv @ inverse.T), 0, 255).astype(np.uint8))
    return frames
