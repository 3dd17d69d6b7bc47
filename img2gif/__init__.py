"""img2gif: two images in, a continuous animation out, with a Warping Neural ODE.

Public API::

    pair = img2gif.fit_pair(a, b)            # (H, W, 3) uint8 arrays -> Pair
    frames = pair.frames([0, 0.25, 0.5, 1])  # any real times
    pair.save("pair.pt"); img2gif.Pair.load("pair.pt")
    img2gif.animate("a.jpg", "b.jpg", "out.gif", fps=30)
    img2gif.reverse("last.jpg", "back.gif", model="smile")
    img2gif.animate(["a.jpg", "b.jpg", "c.jpg"], "path.gif")   # a keyframe path
    img2gif.upconvert("clip.mp4", "smooth.mp4", fps=60)        # raise a video's frame rate
    img2gif.run(img2gif.Request(inputs=("a.jpg", "b.jpg"), output="out.gif"))   # what the CLI does
    model = img2gif.load_model("smile")      # a name or a .pt path -> LearnedModel

The names are imported on first use (``import img2gif`` alone does not import torch).
"""
from ._version import __version__

_API = {
    "FitSettings": "fit",
    "Img2GifError": "errors",
    "Pair": "pair",
    "fit_pair": "pair",
    "read_image": "imagefile",
    "animate": "pipeline",
    "reverse": "pipeline",
    "upconvert": "pipeline",
    "run": "pipeline",
    "Request": "request",
    "FitOptions": "request",
    "load_model": "learned",
    "LearnedModel": "learned",
    "train": "training",
    "TrainSettings": "training",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'img2gif' has no attribute {name!r}")


def __dir__():
    return __all__
