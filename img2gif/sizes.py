"""The two orders a size is written in, named in the type so that neither is guessed.

Images and files speak (width, height) (Pillow, ffmpeg, ``WxH`` in messages); tensors and
fields speak (height, width) (``x.shape[-2:]``). Both are plain tuples underneath.
"""
from __future__ import annotations

from typing import NamedTuple


class WidthHeight(NamedTuple):
    """An image's size as files and users write it: (width, height)."""

    width: int
    height: int


class HeightWidth(NamedTuple):
    """A tensor's or field's spatial shape, as ``shape[-2:]`` is: (height, width)."""

    height: int
    width: int
