"""How frames become bytes: one ``--quality`` knob mapped onto each format, the MP4 codec,
and how many times an animation plays.

The mapping (README, "Output options", has the measured costs):

| quality | MP4 (libx264/libx265) | WebP | GIF |
|---|---|---|---|
| 100 | CRF 0 | lossless | 256 colours, exact |
| 90 (default) | CRF 10 | lossy, quality 90 | 256 colours, exact |
| 70 | CRF 19 | lossy, quality 70 | 256 colours, pixels that change by <= 10 levels kept |
| 50 | CRF 28 | lossy, quality 50 | 256 colours, pixels that change by <= 20 levels kept |
| 10 | CRF 46 | lossy, quality 10 | 51 colours, pixels that change by <= 40 levels kept |

APNG and frame folders are lossless: quality does not apply to them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import OptionError

DEFAULT_QUALITY = 90
CODECS = {"h264": "libx264", "h265": "libx265"}
# GIF dithering where the palette lacks colours (ffmpeg paletteuse names). Measured on real
# clips (BENCHMARKS.md, "GIF size and fidelity"): Floyd-Steinberg gives higher PSNR at smaller size than ffmpeg's
# default sierra2_4a; bayer is a fixed pattern (no crawl from frame to frame, faster, 1-2 dB
# lower); none has the highest PSNR and the smallest files but bands in smooth gradients.
# 'auto' is Floyd-Steinberg up to AUTO_DITHER_PIXELS a frame and bayer above: error diffusion
# costs ffmpeg about 0.15 s more per 1080p frame (BENCHMARKS.md, "Speed and memory of `animate`"), which a large GIF feels.
DITHERS = {"auto": None, "floyd-steinberg": "floyd_steinberg", "bayer": "bayer:bayer_scale=3", "none": "none"}
DEFAULT_DITHER = "auto"
AUTO_DITHER_PIXELS = 1_000_000
MAX_PLAYS = 65535  # GIF, WebP and APNG store the count in 16 bits
DEFAULT_ALPHA_THRESHOLD = 128


@dataclass(frozen=True)
class Encoding:
    """Output settings every writer gets; checked once, when made (``Encoding.check``).

    quality: 1 ... 100 (see the module's table); codec: 'h264' or 'h265' (MP4 only);
    plays: 0 loops forever, N plays N times (an MP4 holds the N plays one after another);
    dither: a key of ``DITHERS`` (GIF only; never used where the palette holds every colour);
    alpha_threshold: 1 ... 255, a GIF pixel with alpha below it is transparent (a GIF pixel is
    either transparent or opaque), the rest opaque.
    """

    quality: int = DEFAULT_QUALITY
    codec: str = "h264"
    plays: int = 0
    dither: str = DEFAULT_DITHER
    alpha_threshold: int = DEFAULT_ALPHA_THRESHOLD

    def check(self) -> "Encoding":
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 1 <= self.quality <= 100:
            raise OptionError(f"--quality must be a whole number from 1 to 100, got {self.quality!r}")
        if self.codec not in CODECS:
            raise OptionError(f"unknown --codec {self.codec!r}; choose one of {', '.join(CODECS)}")
        if self.dither not in DITHERS:
            raise OptionError(f"unknown --dither {self.dither!r}; choose one of {', '.join(DITHERS)}")
        if isinstance(self.plays, bool) or not isinstance(self.plays, int) or not 0 <= self.plays <= MAX_PLAYS:
            raise OptionError(f"the number of plays must be 0 (forever) ... {MAX_PLAYS}, got {self.plays!r}")
        if (isinstance(self.alpha_threshold, bool) or not isinstance(self.alpha_threshold, int)
                or not 1 <= self.alpha_threshold <= 255):
            raise OptionError(f"--alpha-threshold must be a whole number from 1 to 255, got {self.alpha_threshold!r}")
        return self

    # --- per format ---------------------------------------------------------------------

    def mp4_crf(self) -> int:
        """x264/x265 constant rate factor, lower is better: 100 -> 0, 90 -> 10 (what earlier
        versions wrote), then 0.45 per step down: 70 -> 19, 50 -> 28, 1 -> 50. (CRF = 100 - quality,
        tried first, made quality 50 unwatchable: CRF 50, 23 dB in BENCHMARKS.md.)"""
        if self.quality >= DEFAULT_QUALITY:
            return 100 - self.quality
        return min(51, round(10 + (DEFAULT_QUALITY - self.quality) * 0.45))

    def mp4_encoder(self) -> str:
        return CODECS[self.codec]

    def webp(self) -> dict:
        """libwebp settings: lossless at 100, else lossy at this quality."""
        return {"lossless": self.quality == 100, "quality": self.quality}

    def gif_dither(self, frame_pixels: int) -> str:
        """paletteuse's dither for frames of ``frame_pixels`` (where the palette lacks colours)."""
        name = self.dither
        if name == "auto":
            name = "floyd-steinberg" if frame_pixels < AUTO_DITHER_PIXELS else "bayer"
        return DITHERS[name]

    def gif_colours(self) -> int:
        """Palette size: 256 down to quality 50, then fewer (at least 16)."""
        return 256 if self.quality >= 50 else max(16, round(256 * self.quality / 50))

    def gif_tolerance(self) -> int:
        """Levels (0-255, largest channel difference) a pixel may change by and still be kept
        from the frame before: 0 at quality >= 90 (exact), up to 44 at quality 1. Kept pixels
        are transparent in the GIF, which compresses them to almost nothing."""
        return 0 if self.quality >= DEFAULT_QUALITY else round((DEFAULT_QUALITY - self.quality) / 2)


def plays_of(loop: str) -> int:
    """--loop as a play count: 'forever', 'pingpong' and 'closed' loop (0), 'once' is 1, 'N' is N."""
    if loop in ("forever", "pingpong", "closed"):
        return 0
    if loop == "once":
        return 1
    text = str(loop).strip()
    if text.isdigit() and 1 <= int(text) <= MAX_PLAYS:
        return int(text)
    raise OptionError(f"--loop must be forever, once, pingpong, closed or a number of plays (1 ... {MAX_PLAYS}), got {loop!r}")
