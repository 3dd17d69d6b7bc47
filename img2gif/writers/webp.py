"""``webp``: an animated WebP, through ffmpeg's libwebp (streamed) or Pillow's writer."""
from __future__ import annotations

import numpy as np
from PIL import Image

from .. import ffmpeg, timing
from .base import Capabilities, read_with_pillow


class WebpWriter:
    capabilities = Capabilities(extensions=(".webp",), alpha=True, max_side=16383, constant_rate=True,
                                merges_repeats=True, label="WebP")

    def write(self, tmp, feed, shown, *, fps, encoding):
        """libwebp's animation encoder through ffmpeg, fed frame by frame at ``fps`` (holds
        become repeats, which libwebp merges back into one longer frame)."""
        exe = ffmpeg.find()
        if exe is None or not ffmpeg.has_encoder("libwebp_anim"):
            _write_with_pillow(tmp, feed, shown, encoding)
            return
        h, w = feed.shape[:2]
        pix_fmt = "rgba" if feed.shape[2] == 4 else "rgb24"
        settings = encoding.webp()

        def chunks():
            for fr, n in zip(feed.frames([i for i, _ in shown]), timing.repeat_counts([s for _, s in shown], fps)):
                data = np.ascontiguousarray(fr).tobytes()
                for _ in range(n):
                    yield data

        ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{w}x{h}", "-r", f"{fps:.6g}", "-i", "-",
                    "-enc_time_base", "1:1000",  # WebP delays are whole ms: each frame's end rounded, not cut
                    "-c:v", "libwebp_anim", "-lossless", "1" if settings["lossless"] else "0",
                    "-quality", str(settings["quality"]), "-compression_level", "4",
                    "-loop", str(encoding.plays), "-f", "webp", ffmpeg.input_name(tmp)], chunks())

    def read_back(self, path, expected_frames, size):
        return read_with_pillow(path, "webp")


def _write_with_pillow(tmp, feed, shown, encoding) -> None:
    # Without ffmpeg: Pillow's WebP writer takes every frame at once (3 bytes per frame pixel)
    images = [Image.fromarray(fr) for fr in feed.frames([i for i, _ in shown])]
    settings = encoding.webp()
    images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:],
                   duration=timing.delays_ms([s for _, s in shown]), loop=encoding.plays,
                   quality=settings["quality"], lossless=settings["lossless"], method=4)
