"""img2gif: two images in, a continuous animation out, with a Warping Neural ODE.

Public API::

    pair = img2gif.fit_pair(a, b)            # (H, W, 3) uint8 arrays -> Pair
    frames = pair.frames([0, 0.25, 0.5, 1])  # any real times
    pair.save("pair.pt"); img2gif.Pair.load("pair.pt")
    img2gif.animate("a.jpg", "b.jpg", "out.gif", fps=30)
"""
__version__ = "0.1.0"

from .errors import Img2GifError  # noqa: E402
from .fit import FitSettings  # noqa: E402
from .imagefile import read_image  # noqa: E402
from .pair import Pair, fit_pair  # noqa: E402
from .pipeline import animate  # noqa: E402

__all__ = ["FitSettings", "Img2GifError", "Pair", "animate", "fit_pair", "read_image", "__version__"]
