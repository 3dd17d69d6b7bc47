"""``gif``: an animated GIF, one palette per frame (``img2gif.gif``)."""
from __future__ import annotations

from ..errors import OutputError
from ..gif import read_blocks, write_gif
from ..timing import GIF_MAX_FPS
from .base import Capabilities, Written


class GifWriter:
    capabilities = Capabilities(extensions=(".gif",), alpha=True, max_fps=GIF_MAX_FPS,
                                max_fps_reason="browsers treat delays under 2/100 s as 1/10 s", max_side=65535,
                                merges_repeats=True, options=("dither", "alpha_threshold"), label="GIF",
                                stores_every_pixel=True)

    def write(self, tmp, feed, shown, *, fps, encoding):
        write_gif(tmp, feed, shown, encoding)

    def read_back(self, path, expected_frames, size):
        # the block structure, not the pixels: decoding a 1080p GIF back costs seconds, and
        # the LZW data comes from Pillow's own encoder
        try:
            screen, delays, _ = read_blocks(path.read_bytes(), need_trailer=True)
        except ValueError as exc:
            raise OutputError(f"{path}: the GIF encoder wrote a file that cannot be read back ({exc})") from None
        return Written("gif", len(delays), sum(delays) / 100.0, screen)
