"""The APNG encoder: frames written as they arrive (memory does not grow with their number).

Each frame after the first is cropped to the rectangle that changed and drawn over the one
before (dispose none, blend source), as Pillow's own APNG writer does; a frame identical to
the one before only lengthens its delay. Each frame's pixels are compressed by Pillow's PNG
encoder; this module only rewraps them as APNG chunks.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from . import timing

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_DELAY_MS = 10 * 0xFFFF  # the longest delay fcTL holds: 65535/100 s = 655,350 ms


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_chunks(image: Image.Image, compress_level: int) -> list[tuple[bytes, bytes]]:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    data, pos, chunks = buf.getvalue(), len(PNG_SIGNATURE), []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunks.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def _delay(ms: int) -> tuple[int, int]:
    """fcTL's delay as (numerator, denominator): both 16-bit."""
    if ms <= 0xFFFF:
        return ms, 1000
    return min(0xFFFF, round(ms / 10)), 100


class ApngStream:
    """An APNG written frame by frame to the seekable file ``f``; ``add(frame, ms)`` per
    frame in playback order, then ``close()``. ``plays``: 0 forever, N plays N times."""

    def __init__(self, f, plays: int, compress_level: int = 6):
        self.f, self.plays, self.level = f, plays, compress_level
        self.previous = None
        self.pending = None   # (crop, (x, y), ms) of the frame not yet written
        self.sequence = 0     # fcTL/fdAT sequence number
        self.written = 0      # frames in the file
        self.count = 0        # frames asked for
        self._actl_at = None

    def add(self, frame: np.ndarray, ms: int) -> None:
        self.count += 1
        if self.previous is None:
            box = (0, 0, frame.shape[1], frame.shape[0])
        else:
            changed = (frame != self.previous).any(axis=2)
            if not changed.any():
                crop, offset, before = self.pending
                if before + ms <= MAX_DELAY_MS:
                    self.pending = (crop, offset, before + ms)
                    return
                # past what one fcTL delay holds, the same picture goes on as a one-pixel frame
                self._flush()
                self.pending = (np.ascontiguousarray(frame[:1, :1]), (0, 0), ms)
                return
            rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
            box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        self._flush()
        crop = np.ascontiguousarray(frame[box[1]:box[3], box[0]:box[2]])
        self.pending = (crop, (box[0], box[1]), ms)
        self.previous = frame.copy()

    def _flush(self) -> None:
        if self.pending is None:
            return
        crop, (x, y), ms = self.pending
        self.pending = None
        # RGBA frames are written whole-pixel (blend source): a pixel that turns transparent is replaced, not drawn over
        chunks = _png_chunks(Image.fromarray(crop, "RGBA" if crop.shape[2] == 4 else "RGB"), self.level)
        data = b"".join(body for kind, body in chunks if kind == b"IDAT")
        if self.written == 0:
            ihdr = next(body for kind, body in chunks if kind == b"IHDR")
            self.f.write(PNG_SIGNATURE + _chunk(b"IHDR", ihdr))
            self._actl_at = self.f.tell()
            self.f.write(_chunk(b"acTL", struct.pack(">II", 1, self.plays)))  # the count is set at close
        h, w = crop.shape[:2]
        num, den = _delay(ms)
        # dispose 0 (none: the next frame is drawn over this one), blend 0 (source: replace)
        self.f.write(_chunk(b"fcTL", struct.pack(">IIIIIHHBB", self.sequence, w, h, x, y, num, den, 0, 0)))
        self.sequence += 1
        if self.written == 0:
            self.f.write(_chunk(b"IDAT", data))  # the first frame is also the still image
        else:
            self.f.write(_chunk(b"fdAT", struct.pack(">I", self.sequence) + data))
            self.sequence += 1
        self.written += 1

    def close(self) -> None:
        if self.pending is None and self.written == 0:
            raise ValueError("an APNG needs at least one frame")
        self._flush()
        self.f.write(_chunk(b"IEND", b""))
        end = self.f.tell()
        self.f.seek(self._actl_at)
        self.f.write(_chunk(b"acTL", struct.pack(">II", self.written, self.plays)))
        self.f.seek(end)


def write_apng(tmp, feed, shown, plays: int) -> None:
    """Write the frames of ``feed`` (a FrameFeed) played as ``shown`` to ``tmp``."""
    delays = timing.delays_ms([s for _, s in shown])
    with open(tmp, "wb") as f:
        stream = ApngStream(f, plays)
        for frame, ms in zip(feed.frames([i for i, _ in shown]), delays):
            stream.add(frame, ms)
        stream.close()
