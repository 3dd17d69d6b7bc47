"""``apng``: an animated PNG (``img2gif.apng``), lossless, any rate."""
from __future__ import annotations

from ..apng import write_apng
from .base import Capabilities, read_with_pillow


class ApngWriter:
    capabilities = Capabilities(extensions=(".png", ".apng"), alpha=True, lossless=True, merges_repeats=True,
                                label="APNG")

    def write(self, tmp, feed, shown, *, fps, encoding):
        write_apng(tmp, feed, shown, encoding.plays)

    def read_back(self, path, expected_frames, size):
        return read_with_pillow(path, "apng")
