"""The GIF encoder: one global palette from a sample of frames, then every frame indexed
and written as it arrives (memory does not grow with the number of frames).

What keeps GIFs small and clean:
- each frame is cropped to the rectangle that changed, and unchanged pixels inside it are
  transparent (the frame before shows through; long runs of one index compress well);
- a frame identical to the one before only lengthens that one's delay;
- no dithering where the palette holds every colour of the sample (a grayscale animation
  gets its own grays, exact, and no crosshatch); otherwise Floyd-Steinberg by default
  (measured better than ffmpeg's default at a smaller size), bayer for frames of a million
  pixels or more (``Encoding.gif_dither``: error diffusion is slow there);
- below the default quality, pixels that changed by at most a tolerance keep the colour
  already shown (``Encoding.gif_tolerance``): lossy, and much smaller.

The palette and the indexing come from ffmpeg's palettegen/paletteuse; without ffmpeg,
Pillow's median cut and Floyd-Steinberg dithering.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from . import ffmpeg, timing
from .encoding import Encoding
from .errors import OutputError
from .imagefile import Img2GifWarning

SAMPLE_FRAMES = 16
GRAY_LEVELS = 255  # one entry of 256 stays free: the transparent index
MAX_DELAY_CS = 65535


def palette_sample(count: int) -> list[int]:
    """Rendered indices the palette is built from: at most ~16 evenly spaced frames (an
    animation's colours change gradually; a third faster at 1080p)."""
    return list(range(0, count, max(1, count // SAMPLE_FRAMES)))


def distinct_colours(frames: list[np.ndarray], most: int) -> int:
    """How many distinct RGB colours ``frames`` hold, counting up to ``most + 1``."""
    seen = np.zeros(1 << 24, dtype=bool)
    for frame in frames:
        f = frame.reshape(-1, 3).astype(np.uint32)
        seen[(f[:, 0] << 16) | (f[:, 1] << 8) | f[:, 2]] = True
        if np.count_nonzero(seen) > most:
            return most + 1
    return int(np.count_nonzero(seen))


def is_gray(frames: list[np.ndarray]) -> bool:
    return all(np.array_equal(f[..., 0], f[..., 1]) and np.array_equal(f[..., 1], f[..., 2]) for f in frames)


class GifStream:
    """A GIF written frame by frame from palette indices.

    ``add(indices)`` per frame, in playback order; ``close()`` ends the file. ``tolerance``
    (levels): a pixel whose colour moved by at most this much keeps the colour shown.
    ``keyed``: the index of the frames' own transparent pixels (RGBA frames): then each frame
    is written whole and cleared before the next (disposal 2), since a pixel that turns
    transparent must show the background, not the frame before.
    """

    def __init__(self, f, size, palette: np.ndarray, delays_cs: list[int], plays: int,
                 transparent: int | None = None, tolerance: int = 0, keyed: int | None = None):
        w, h = size
        self.f, self.delays = f, delays_cs
        self.keyed = keyed
        self.transparent = transparent if keyed is None else None
        self.palette = np.zeros((256, 3), np.uint8)
        self.palette[: len(palette)] = palette
        self.tolerance = tolerance if transparent is not None else 0
        f.write(b"GIF89a" + w.to_bytes(2, "little") + h.to_bytes(2, "little") + bytes([0xF7, 0, 0]))
        f.write(self.palette.tobytes())
        if plays != 1:
            # NETSCAPE2.0: how many times to repeat after the first play (0: forever)
            repeats = 0 if plays == 0 else plays - 1
            f.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + repeats.to_bytes(2, "little") + b"\x00")
        self.shown = None     # the indices on screen after the last frame
        self.pending = None   # (crop image, offset, delay, transparency) of the frame not yet written
        self.count = 0        # frames asked for

    def add(self, indices: np.ndarray) -> None:
        delay = self.delays[self.count]
        self.count += 1
        if self.shown is None:
            changed = None
            top, bottom, left, right = 0, indices.shape[0], 0, indices.shape[1]
        else:
            changed = indices != self.shown
            if self.tolerance and changed.any():
                moved = np.abs(self.palette[indices].astype(np.int16) - self.palette[self.shown].astype(np.int16)).max(axis=2)
                changed &= moved > self.tolerance
            if not changed.any():  # the same picture: it only lengthens the frame before
                crop, offset, before, clear = self.pending
                if before + delay <= MAX_DELAY_CS:
                    self.pending = (crop, offset, before + delay, clear)
                    return
                if self.keyed is not None:  # the frame before is cleared: the picture goes on whole
                    self._flush()
                    self.pending = (crop, offset, delay, clear)
                    return
                # a GIF delay is 16 bits: past 655.35 s the same picture goes on as a new frame
                # of one pixel that changes nothing
                self._flush()
                keep = np.full((1, 1), clear if clear is not None else self.shown[0, 0], np.uint8)
                self.pending = (Image.fromarray(keep, mode="P"), (0, 0), delay, clear)
                return
            rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
            top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        if self.keyed is not None:
            # only the visible pixels' box: the frame before is cleared to transparency first
            # (disposal 2), and what lies outside every box was never drawn
            changed = None
            visible = indices != self.keyed
            rows, cols = np.nonzero(visible.any(axis=1))[0], np.nonzero(visible.any(axis=0))[0]
            if len(rows):
                top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            else:  # nothing shows: one transparent pixel
                top, bottom, left, right = 0, 1, 0, 1
        self._flush()
        block = indices[top:bottom, left:right]
        clear = self.transparent if changed is not None else self.keyed
        if clear is not None and changed is not None:  # the frame before shows through where nothing changed
            block = np.where(changed[top:bottom, left:right], block, np.uint8(clear))
        crop = Image.fromarray(np.ascontiguousarray(block, dtype=np.uint8), mode="P")
        self.pending = (crop, (int(left), int(top)), delay, clear)
        if changed is None:
            self.shown = indices.copy()
        else:
            np.copyto(self.shown, indices, where=changed)

    def _flush(self) -> None:
        if self.pending is None:
            return
        from PIL import GifImagePlugin

        crop, offset, delay, clear = self.pending
        crop.putpalette([0] * 768)  # the data only: the palette is the global one
        extra = {"transparency": clear} if clear is not None else {}
        # disposal 1: leave the frame in place, the next one is drawn over it; 2 (keyed):
        # clear it to the background (transparent) first
        disposal = 2 if self.keyed is not None else 1
        for chunk in GifImagePlugin.getdata(crop, offset=offset, duration=delay * 10, disposal=disposal, **extra):
            self.f.write(chunk)
        self.pending = None

    def close(self) -> None:
        self._flush()
        self.f.write(b"\x3b")


def _palette_ffmpeg(sample: list[np.ndarray], exe: str, colours: int) -> np.ndarray:
    """(256, 4) uint8 RGBA: ffmpeg's palettegen over the sample frames (one entry is the
    transparent one palettegen reserves)."""
    h, w = sample[0].shape[:2]
    palette = bytearray()
    ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24",
                "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-vf", f"palettegen=stats_mode=full:max_colors={colours}",
                "-f", "rawvideo", "-pix_fmt", "rgba", "-"], ffmpeg.raw_frames(sample), 16 * 16 * 4, palette.extend)
    if len(palette) != 16 * 16 * 4:
        raise OutputError(f"ffmpeg palettegen returned {len(palette)} bytes")
    return np.frombuffer(bytes(palette), np.uint8).reshape(256, 4)


def _index_ffmpeg(frames, size, palette: np.ndarray, exe: str, dither: str, each) -> None:
    """paletteuse on ``frames`` (streamed through pipes); ``each(indices (H, W) uint8, palette
    (256, 3) uint8, transparent index or None)`` per frame. The palette is the one paletteuse
    reports with each frame: it orders the entries its own way."""

    def unpack(block: bytes):
        argb = np.frombuffer(block, np.uint8, offset=w * h).view("<u4")
        pal = np.stack([(argb >> 16) & 255, (argb >> 8) & 255, argb & 255], axis=1).astype(np.uint8)
        # palettegen reserves one fully transparent entry; opaque frames never use it, so it
        # can mark "unchanged since the last frame" pixels
        clear = np.nonzero((argb >> 24) == 0)[0]
        each(np.frombuffer(block, np.uint8, count=w * h).reshape(h, w), pal, int(clear[0]) if len(clear) else None)

    w, h = size
    per = w * h + 1024  # pal8 raw video: indices, then 256 palette entries as native uint32 ARGB
    with tempfile.TemporaryDirectory(prefix="img2gif-") as workdir:  # the system's temp dir: 1 KB
        palette_png = Path(workdir) / "palette.png"
        Image.frombytes("RGBA", (16, 16), palette.tobytes()).save(palette_png)
        # diff_mode=rectangle: only the changed rectangle is re-dithered, the rest stays put
        use = f"paletteuse=dither={dither}:diff_mode=rectangle"
        ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-i", ffmpeg.input_name(palette_png),
                    "-lavfi", f"[0:v][1:v]{use}",
                    "-flush_packets", "1", "-f", "rawvideo", "-pix_fmt", "pal8", "-"], ffmpeg.raw_frames(frames), per, unpack,
                   in_flight=4 + (1 << 16) // per)  # headroom for ffmpeg's own output buffer (small frames)


def gray_palette(sample: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(palette (n, 3) uint8, lookup (256,) uint8): the gray levels the sample uses, all of
    them when there are at most 255 (exact), else the 255 most used; the lookup takes a level
    to its nearest palette entry (levels a later frame adds land on their neighbours)."""
    counts = sum(np.bincount(f[..., 0].ravel(), minlength=256) for f in sample)
    used = np.nonzero(counts)[0]
    if len(used) > GRAY_LEVELS:
        used = np.sort(used[np.argsort(counts[used], kind="stable")[len(used) - GRAY_LEVELS:]])
    lookup = np.abs(used[None, :].astype(int) - np.arange(256)[:, None]).argmin(axis=1).astype(np.uint8)
    return np.repeat(used.astype(np.uint8)[:, None], 3, axis=1), lookup


def write_gif(tmp: Path, feed, shown, encoding: Encoding) -> None:
    """Write the frames of ``feed`` (a FrameFeed) played as ``shown`` to ``tmp``."""
    size = (feed.shape[1], feed.shape[0])
    delays = timing.gif_delays_cs([s for _, s in shown])
    sample = feed.pin(palette_sample(len(feed)))
    order = [i for i, _ in shown]
    colours = encoding.gif_colours()
    tolerance = encoding.gif_tolerance()
    with open(tmp, "wb") as f:
        if feed.shape[2] == 4:
            gif = _write_alpha(f, feed, sample, order, size, delays, encoding, colours)
        elif colours > GRAY_LEVELS and is_gray(sample):
            # a gray animation stays gray (every mode mixes channels alike): its own grays, no dither
            palette, lookup = gray_palette(sample)
            gif = GifStream(f, size, palette, delays, encoding.plays, GRAY_LEVELS, tolerance)
            for frame in feed.frames(order):
                gif.add(lookup[frame[..., 0]])
        else:
            gif = _write_colour(f, feed, sample, order, size, delays, encoding, colours, tolerance)
        if gif.count != len(order):
            raise OutputError(f"the GIF encoder received {gif.count} of {len(order)} frames")
        gif.close()


def _write_alpha(f, feed, sample, order, size, delays, encoding, colours) -> GifStream:
    """RGBA frames ((H, W, 4) straight alpha): a pixel with alpha below
    ``encoding.alpha_threshold`` is the transparent index, the rest opaque in a palette of
    the visible colours (Pillow's median cut; dithered unless it holds every colour)."""
    threshold = encoding.alpha_threshold
    entries = colours - 1  # the last index is the transparent one
    visible = [frame[..., :3][frame[..., 3] >= threshold] for frame in sample]
    pixels = np.concatenate(visible + [np.zeros((1, 3), np.uint8)])  # black: a frame may show nothing
    quantizer = Image.fromarray(pixels[None]).quantize(colors=entries, method=Image.Quantize.MEDIANCUT)
    pal = np.array(quantizer.getpalette()[: 3 * entries], np.uint8).reshape(-1, 3)
    used = len(pal)
    # pad with copies of entry 0: an index Pillow picks past the real ones is mapped back to 0
    padded = np.concatenate([pal, np.repeat(pal[:1], 256 - used, axis=0)])
    quantizer.putpalette(padded.ravel().tolist())
    full = distinct_colours([p[None] for p in visible], used) > used
    dither = Image.Dither.FLOYDSTEINBERG if full and encoding.dither != "none" else Image.Dither.NONE
    gif = GifStream(f, size, pal, delays, encoding.plays, keyed=used)
    for frame in feed.frames(order):
        indices = np.array(Image.fromarray(np.ascontiguousarray(frame[..., :3])).quantize(palette=quantizer, dither=dither))
        indices[indices >= used] = 0
        indices[frame[..., 3] < threshold] = used
        gif.add(indices)
    return gif


def _write_colour(f, feed, sample, order, size, delays, encoding, colours, tolerance) -> GifStream:
    exe = ffmpeg.find()
    palette = None
    if exe is not None:
        try:
            palette = _palette_ffmpeg(sample, exe, colours)
        except (OSError, OutputError) as exc:
            warnings.warn(f"ffmpeg palette failed ({exc}); using Pillow's palette", Img2GifWarning, stacklevel=3)
    if palette is not None:
        # palettegen keeps one entry for transparency: the palette holds every colour of
        # the sample when there are fewer than that
        full = distinct_colours(sample, colours - 1) > colours - 1
        dither = encoding.gif_dither(size[0] * size[1]) if full else "none"
        streams = []

        def add(indices, frame_palette, transparent):
            if not streams:
                streams.append(GifStream(f, size, frame_palette, delays, encoding.plays, transparent, tolerance))
            streams[0].add(indices)

        _index_ffmpeg(feed.frames(order), size, palette, exe, dither, add)
        if not streams:
            raise OutputError("ffmpeg paletteuse returned no frames")
        return streams[0]
    montage = Image.fromarray(np.concatenate(sample[:SAMPLE_FRAMES], axis=0))
    quantizer = montage.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    pal = np.array(quantizer.getpalette()[: 3 * colours], np.uint8).reshape(-1, 3)
    gif = GifStream(f, size, pal, delays, encoding.plays)
    for frame in feed.frames(order):
        im = Image.fromarray(frame).quantize(palette=quantizer, dither=Image.Dither.FLOYDSTEINBERG)
        gif.add(np.asarray(im))
    return gif


def read_blocks(data: bytes, need_trailer: bool = False) -> tuple[tuple[int, int], list[int], int | None]:
    """(logical screen size, per-frame delays in cs, NETSCAPE loop count or None) of a GIF.

    Walks the block structure only (no pixel is decoded), so a tiny file declaring a huge
    canvas and thousands of frames costs what its bytes cost. ValueError says what is wrong.
    ``need_trailer``: a file without its end marker is cut (what a writer's read-back wants).
    """
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("header missing")
    size = (int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little"))
    pos = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    delays, delay, loop = [], 0, None

    def skip_sub_blocks(at):
        while True:
            if at >= len(data):
                raise ValueError("data cut off")
            n = data[at]
            at += 1 + n
            if n == 0:
                return at

    while True:
        if pos >= len(data):
            if need_trailer:
                raise ValueError("data cut off (no trailer)")
            break  # no trailer: Pillow reads such files too
        kind = data[pos]
        if kind == 0x3B:
            break
        if kind == 0x21 and pos + 2 < len(data):
            label = data[pos + 1]
            if label == 0xF9 and pos + 7 < len(data):
                delay = int.from_bytes(data[pos + 4:pos + 6], "little")
            elif label == 0xFF and data[pos + 3:pos + 14] == b"NETSCAPE2.0" and pos + 18 < len(data):
                loop = int.from_bytes(data[pos + 16:pos + 18], "little")
            pos = skip_sub_blocks(pos + 2)
        elif kind == 0x2C and pos + 10 <= len(data):
            flags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = skip_sub_blocks(pos + 1)  # the LZW code size, then the image data
            delays.append(delay)
            delay = 0
        else:
            raise ValueError(f"block 0x{kind:02x} at byte {pos} is not valid")
    if not delays:
        raise ValueError("holds no frame")
    return size, delays, loop
