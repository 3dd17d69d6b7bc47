"""A trained model applied to one image: Phi_t at the model's size, upsampled to the image's
(or to one box of it: ``img2gif.region``)."""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .errors import InputError
from .region import Region, fade_margins, paste_field
from .ode import WarpODE
from .render import MODES, render, to_tensor
from .warp import count_folds

MIN_SIZE, MAX_SIZE = 8, 1024   # what `train --size` accepts: the model's input is size x size
CHANNELS = (1, 3, 4)           # what condition() can make from an RGB image


class LearnedModel:
    """A WarpODE trained on a data set, with the image size and channels it expects."""

    def __init__(self, ode: WarpODE, size: int, channels: int, record: dict | None = None, device="cpu"):
        self.device = torch.device(device)
        self.ode = ode.to(self.device).eval()
        self.size = int(size)
        self.channels = int(channels)
        self.record = record or {}

    @classmethod
    def load(cls, path, device="cpu") -> "LearnedModel":
        """Rebuild a model from a file written by training; every field is checked before it is built."""
        record = checkpoint.load(path, "img2gif.model")
        path = os.fspath(path)
        size, channels = record.get("image_size"), record.get("channels")
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
            raise InputError(f"{path}: field 'image_size' must be a whole number between {MIN_SIZE} and {MAX_SIZE}, "
                             f"got {checkpoint.shorten(size)}")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels not in CHANNELS:
            raise InputError(f"{path}: field 'channels' must be 1, 3 or 4, got {checkpoint.shorten(channels)}")
        config = record.get("velocity", {}).get("config", {})  # a dict where present: checkpoint.load checked
        if "in_channels" in config and config["in_channels"] != channels:
            raise InputError(f"{path}: the model takes {channels}-channel images but its velocity's in_channels "
                             f"is {checkpoint.shorten(config['in_channels'])}")
        ode = checkpoint.rebuild_warp(record, path, channels=channels, field_shape=(size, size))
        try:
            ode.velocity.load_state_dict(record["state_dict"])
            return cls(ode, size, channels, record, device)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"{path}: model file is incomplete or inconsistent ({type(exc).__name__}: {str(exc)[:160]})") from None

    def condition(self, image: np.ndarray) -> torch.Tensor:
        """The model's input for an (H, W, 3) uint8 image: its channels, at its size."""
        x = to_tensor(image, self.device)
        if self.channels == 1:
            x = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        elif self.channels == 4:
            x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)

    @torch.no_grad()
    def fields(self, image: np.ndarray, times, region: Region | None = None) -> torch.Tensor:
        """(T, 2, S, S) fields for ``image`` (or its ``region`` alone) at ``times`` (negative:
        the way back), in the coordinates of what the model saw."""
        x = self.condition(image if region is None else region.crop(image))
        return self.ode.fields(x, torch.as_tensor(times, dtype=torch.float32, device=self.device), (self.size, self.size))[:, 0]

    @torch.no_grad()
    def frames(self, image: np.ndarray, times, mode: str = "warp-only", region: Region | None = None) -> list[np.ndarray]:
        """The image warped by Phi_t (upsampled to its full size), in colour: (H, W, 3) uint8.

        One image has no B to blend with: the modes that need B are refused. ``region``: the
        model warps that box alone (a face in a portrait) and the rest stays as it is.
        """
        return list(self.iter_frames(image, times, mode, region))

    def iter_frames(self, image: np.ndarray, times, mode: str = "warp-only", region: Region | None = None):
        """The same frames, yielded as they are rendered."""
        return self.frame_renderer(image, times, mode, region)(times)

    def frame_renderer(self, image: np.ndarray, times, mode: str = "warp-only", region: Region | None = None):
        """A callable, times (a subset of ``times``) -> iterator of frames, for a FrameFeed.

        All fields are solved at once here (at the model's small size), so a fixed-step
        solver takes the same steps however the frames are then asked for; with a ``region``
        each is made the whole image's (``region.paste_field``) only when its frame is drawn.
        """
        if mode not in MODES or MODES[mode].needs_b:
            usable = [m for m, kind in MODES.items() if not kind.needs_b]
            raise ValueError(f"a model animates one image: render mode must be one of {usable}, got {mode!r}")
        times = [float(t) for t in times]
        if region is not None:
            region.check_inside(image.shape[1], image.shape[0], "the image")
        phi = self.fields(image, times, region)
        by_time = {float(np.float32(t)): phi[i] for i, t in enumerate(times)}  # render asks in float32
        x = to_tensor(image, self.device)
        margins = None if region is None else fade_margins(phi, region)  # one margin for every frame

        def fields_at(wanted):
            phi = torch.stack([by_time[float(np.float32(t))] for t in wanted.cpu()])
            return phi if region is None else paste_field(phi, region, *image.shape[:2], margins)

        return lambda subset: render(fields_at, x, None, subset, mode=mode)

    def on(self, image: np.ndarray, times, region: Region | None = None) -> "ModelOnImage":
        """This model applied to ``image`` (or its ``region``) at ``times``: a ``render.Renderable``."""
        return ModelOnImage(self, image, [float(t) for t in times], region)

    def folds(self, image: np.ndarray, times=(0.25, 0.5, 0.75, 1.0)) -> int:
        return sum(count_folds(p.unsqueeze(0)) for p in self.fields(image, list(times)))


class ModelOnImage:
    """A trained model applied to one image at the times it will be asked for (its fields are
    solved at once, at the model's size): what ``reverse`` and ``animate --model`` render."""

    def __init__(self, model: LearnedModel, image: np.ndarray, times: list[float], region: Region | None):
        self.model, self.image, self.times, self.region = model, image, times, region

    @property
    def shape(self) -> tuple:
        return self.image.shape

    def frame_renderer(self, mode: str = "warp-only"):
        return self.model.frame_renderer(self.image, self.times, mode, self.region)


def load_model(name_or_path, device="auto") -> LearnedModel:
    """A trained model by registry name (``smile``, a ``train --name``) or ``.pt`` path."""
    from .models import resolve
    from .device import resolve_device

    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    return LearnedModel.load(resolve(os.fspath(name_or_path)), dev)
