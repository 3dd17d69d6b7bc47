"""``frames``: a folder of numbered PNG frames (an output path ending in '/')."""
from __future__ import annotations

from PIL import Image

from .base import Capabilities


class FramesWriter:
    capabilities = Capabilities(folder=True, alpha=True, lossless=True, loop_count=False, label="PNG frames")

    def write(self, folder, feed, shown, *, fps, encoding):
        """Every rendered frame once, in order (holds and plays are the player's business);
        returns the file names written."""
        names = []
        for k, fr in enumerate(feed.frames(range(len(feed)))):
            name = f"frame_{k:04d}.png"
            Image.fromarray(fr).save(folder / name)
            names.append(name)
        return names
