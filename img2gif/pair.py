"""``Pair``: two images and the fitted warp between them; the object the API hands out."""
from __future__ import annotations

import dataclasses
import numbers
import os

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint, refine
from .device import resolve_device
from .fit import FitSettings, fit_pair_tensors, fit_pairs_tensors, starts_from_field, working_shape
from .errors import InputError, OptionError
from .imagefile import check_image_array
from .ode import WarpODE
from .render import check_mode, ode_fields, render, to_tensor
from .sizes import HeightWidth, WidthHeight
from .still import MODES as STILL_MODES, soft_edge, still_mask
from .warp import count_folds, resize_image, sample


_NOT_MADE = object()  # a cache not filled yet (None is a result: nothing to refine)


class Pair:
    """Images A and B ((H, W, 3) uint8, or (H, W, 4) straight-alpha RGBA; same size) and the
    WarpODE that carries A onto B (fitted on the premultiplied images: see render.to_tensor)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, ode: WarpODE, settings: FitSettings, device="cpu",
                 still: torch.Tensor | None = None):
        if a.shape != b.shape or a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError(f"a and b must be (H, W, 3) or (H, W, 4) of one size, got {a.shape} and {b.shape}")
        self.a, self.b = a, b
        self.settings = settings
        self.device = torch.device(device)
        self.ode = ode.to(self.device).eval()
        # the still overlays' (1, 1, H, W) 0/1 mask: the fit's, or found when first asked for
        self._still = None
        if still is not None:
            if tuple(still.shape[-2:]) != tuple(a.shape[:2]):  # the images were resized (--size)
                still = F.interpolate(still.float().view(1, 1, *still.shape[-2:]), size=a.shape[:2], mode="nearest")
            self._still = still.float().view(1, 1, *a.shape[:2]).to(self.device)
        self._still_weight = None
        self._middle_images = None
        self._residuals = _NOT_MADE  # refine.residuals (None: nothing to refine), made when first rendered

    @property
    def still(self) -> torch.Tensor | None:
        """(1, 1, H, W) 0/1 mask of still overlays (``img2gif.still``), None when the fit's
        ``keep_still`` is off or nothing is still: the mask the fit ignored (saved with the
        pair), else found from A, B and the fitted warp."""
        if self.settings.keep_still == "off":
            return None
        if self._still is None:
            a, b = self._tensors()
            self._still = still_mask(a, b, self._fields_of(a, [0.5, -0.5]))
        return self._still if bool(self._still.any()) else None

    def still_weight(self) -> torch.Tensor | None:
        """(1, 1, H, W) in [0, 1]: how much of each rendered pixel is A unwarped; None if none."""
        mask = self.still
        if mask is None:
            return None
        if self._still_weight is None:  # a video's gap is rendered in several calls: made once
            self._still_weight = soft_edge(mask)
        return self._still_weight

    @property
    def size(self) -> WidthHeight:
        """(width, height) of the images, as files and messages give it."""
        return WidthHeight(self.a.shape[1], self.a.shape[0])

    @property
    def shape(self) -> tuple:
        """(H, W, C) of the frames (a ``render.Renderable``)."""
        return self.a.shape

    @property
    def field_size(self) -> HeightWidth:
        """(height, width) of the working resolution the warp is integrated at (a field's shape)."""
        return working_shape(self.a.shape[0], self.a.shape[1], self.settings.working_size)

    def _tensors(self):
        return to_tensor(self.a, self.device), to_tensor(self.b, self.device)

    def fields(self, times) -> torch.Tensor:
        """(T, 2, h, w) displacement fields Phi_t at the working resolution."""
        return self._fields_of(to_tensor(self.a, self.device), times)

    def _fields_of(self, a: torch.Tensor, times) -> torch.Tensor:
        """``fields`` for A already a tensor (the warp is conditioned on A only)."""
        with torch.no_grad():
            return self.ode.fields(a, torch.as_tensor(times, dtype=torch.float32, device=self.device), self.field_size)[:, 0]

    def frames(self, times, mode: str = "blend") -> list[np.ndarray]:
        """(H, W, C) uint8 frames at ``times`` (t = 0 is A, t = 1 is B; C is the images')."""
        return list(self.iter_frames(times, mode))

    def iter_frames(self, times, mode: str = "blend"):
        """The same frames, yielded as they are rendered."""
        return self.frame_renderer(mode)(times)

    def frame_renderer(self, mode: str = "blend"):
        """A callable, times -> iterator of frames, for a FrameFeed (which asks in batches):
        the images become tensors once here, not once per batch."""
        check_mode(mode)
        a, b = self._tensors()
        fields_at = self.refined(a, b, ode_fields(self.ode, a, self.field_size))
        still = self.still_weight()
        return lambda times: render(fields_at, a, b, times, mode=mode, still=still)

    def refined(self, a: torch.Tensor, b: torch.Tensor, fields_at):
        """``fields_at`` (times -> fields) with the motion refined above the working size
        (``img2gif.refine``; A and B as tensors), as the settings' ``refine`` asks; the
        refinement is made once, with still overlays (``still_weight``) left out of it as the
        fit leaves them out."""
        if self.settings.refine == "off":
            return fields_at
        if self._residuals is _NOT_MADE:
            sizes = refine.levels(self.field_size, self.a.shape[:2])
            self._residuals = None
            if sizes:  # nothing above the working size: no fields integrated for nothing
                still = self.still_weight()
                with torch.no_grad():
                    ends = self._fields_of(a, [1.0, -1.0])
                    self._residuals = refine.residuals(a, b, ends[0:1], ends[1:2], sizes,
                                                       weight=None if still is None else 1 - still)
        return refine.with_residuals(fields_at, self._residuals)

    def with_refine(self, mode: str) -> "Pair":
        """This pair rendered with the refinement ``mode`` (``refine.MODES``): the fit is the
        same, only the frames change (a pair saved before refinement existed is ``off``)."""
        refine.check_mode(mode)
        return Pair(self.a, self.b, self.ode, dataclasses.replace(self.settings, refine=mode), self.device,
                    still=self._still)

    def residual(self) -> tuple[float, float]:
        """(left, unwarped): the mean absolute difference, in levels (0-255), of A and B each
        carried to the middle of the gap (the two sides the blend mixes there, here sampled
        bilinearly; still overlays count as explained, as they are drawn unwarped), and of A
        and B as they are; at the working size. A warp that explains
        the change leaves a small share of it."""
        a, b, forward, backward = self._middle()  # a, b: the images as the fit saw them
        with torch.no_grad():
            apart = (forward - backward).abs()
            weight = self.still_weight()
            if weight is not None:  # still overlays are drawn from A unwarped: nothing is left there
                apart = apart * (1 - F.interpolate(weight, size=self.field_size, mode="area"))
            left = float(apart.mean())
            unwarped = float((a - b).abs().mean())
        return 255 * left, 255 * unwarped

    def agreement(self) -> float:
        """The correlation, in [-1, 1], of A and B each carried to the middle of the gap (gray,
        at the working size): what is left of a moving scene, a dissolve or a flash is mostly
        still the same picture (0.53-1 on generated pairs), however much it differs; two shots a
        cut apart are not, however well the warp bends one towards the other (0.6 at most)."""
        _, _, forward, backward = self._middle()
        x, y = (side[:, :3].mean(1).flatten() for side in (forward, backward))
        x, y = x - x.mean(), y - y.mean()
        norms = float(x.norm() * y.norm())
        return 1.0 if norms == 0 else float((x * y).sum()) / norms  # flat frames: nothing disagrees

    def _middle(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(A, B, A carried to the middle of the gap, B carried there), each (1, C, h, w) at the
        working size (bilinear); made once (a video's gap asks for its residual and its agreement)."""
        if self._middle_images is None:
            a, b = self._tensors()
            phi = self._fields_of(a, [0.5, -0.5])
            a, b = (resize_image(x, self.field_size) for x in (a, b))
            with torch.no_grad():
                self._middle_images = a, b, sample(a, phi[0:1]), sample(b, phi[1:2])
        return self._middle_images

    def folds(self, times=(0.25, 0.5, 0.75, 1.0, -1.0)) -> int:
        """Pixels where the warp folds (det <= 0), summed over ``times``."""
        return sum(count_folds(phi.unsqueeze(0)) for phi in self.fields(list(times)))

    def to(self, device) -> "Pair":
        return Pair(self.a, self.b, self.ode, self.settings, device, still=self._still)

    # --- files -------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write a self-describing .pt (loads with weights_only=True)."""
        ode = self.ode
        payload = {
            **ode.record(),
            "state_dict": {k: v.detach().cpu() for k, v in ode.velocity.state_dict().items()},
            "fit": self.settings.to_dict(),
            "image_size": [int(self.a.shape[1]), int(self.a.shape[0])],
            "working_shape": list(self.field_size),
            "images": {"a": torch.from_numpy(self.a.copy()), "b": torch.from_numpy(self.b.copy())},
            "alpha": self.a.shape[2] == 4,  # straight-alpha RGBA images (fitted premultiplied)
        }
        if self.still is not None:  # (H, W) uint8 0/1: the mask the fit ignored, not found again
            payload["still"] = self.still[0, 0].to(torch.uint8).cpu()
        checkpoint.save(path, payload, "img2gif.pair")

    @classmethod
    def load(cls, path, device="cpu") -> "Pair":
        """Rebuild a Pair from a file written by :meth:`save`.

        Every field is checked (images, sizes, settings, backend configs) before the
        velocity and solver are built: a crafted file is an InputError, never a crash.
        """
        record = checkpoint.load(path, "img2gif.pair")
        path = os.fspath(path)
        a, b = _pair_images(record, path)
        settings = _fit_settings(record, path)
        field = working_shape(a.shape[0], a.shape[1], settings.working_size)
        for key, want in (("image_size", [a.shape[1], a.shape[0]]), ("working_shape", list(field))):
            if record.get(key) != want:
                raise InputError(f"{path}: field {key!r} is {checkpoint.shorten(record.get(key))}, "
                                 f"but the images and fit settings give {want}")
        ode = checkpoint.rebuild_warp(record, path, channels=a.shape[2], field_shape=field)
        try:
            ode.velocity.load_state_dict(record["state_dict"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise InputError(f"{path}: pair file is incomplete or inconsistent ({type(exc).__name__}: {str(exc)[:160]})") from None
        return cls(a, b, ode, settings, device, still=_still_record(record, path, a.shape[:2]))


def _still_record(record: dict, path: str, shape) -> torch.Tensor | None:
    """The saved still-overlay mask, (H, W) uint8 of 0 and 1, or None when there is none."""
    still = record.get("still")
    if still is None:
        return None
    if not isinstance(still, torch.Tensor) or still.dtype != torch.uint8 or tuple(still.shape) != tuple(shape):
        raise InputError(f"{path}: field 'still' must be a {shape[1]}x{shape[0]} uint8 mask of the images' size, "
                         f"got {checkpoint.shorten(still)}")
    if bool((still > 1).any()):
        raise InputError(f"{path}: field 'still' must hold only 0 and 1")
    return still


def _pair_images(record: dict, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Images a and b of a pair record, under the same limits as image files."""
    images = record.get("images")
    if not isinstance(images, dict) or not all(isinstance(images.get(k), torch.Tensor) for k in "ab"):
        raise InputError(f"{path}: field 'images' must hold tensors 'a' and 'b'")
    out = []
    for k in "ab":
        t = images[k]
        array = t.numpy() if t.dtype == torch.uint8 else t  # shares the loaded bytes: nothing is copied
        # RGBA only in a file that says so (written by save): a file's images are never guessed at
        check_image_array(array, path, f"image {k}", (4,) if record.get("alpha") is True else (3,))  # a non-uint8 tensor is refused as it is
        out.append(array)
    if out[0].shape != out[1].shape:
        raise InputError(f"{path}: images a and b differ in size ({out[0].shape[1]}x{out[0].shape[0]} "
                         f"and {out[1].shape[1]}x{out[1].shape[0]})")
    return out[0], out[1]


def _fit_settings(record: dict, path: str) -> FitSettings:
    """The record's fit settings; each known field must have its default's type."""
    fit = record.get("fit")
    if not isinstance(fit, dict):
        raise InputError(f"{path}: field 'fit' must be a dict of fit settings, got {checkpoint.shorten(fit)}")
    defaults = FitSettings()
    for f in dataclasses.fields(FitSettings):
        default = getattr(defaults, f.name)
        if f.name in fit and not _same_kind(fit[f.name], default):
            raise InputError(f"{path}: fit setting {f.name!r} is {checkpoint.shorten(fit[f.name])}, "
                             f"expected {type(default).__name__}")
    settings = FitSettings.from_dict(fit)  # unknown keys are ignored, as from_dict always did
    for name, modes in (("keep_still", STILL_MODES), ("refine", refine.MODES)):
        value = getattr(settings, name)
        if value not in modes:
            raise InputError(f"{path}: fit setting {name!r} is {checkpoint.shorten(value)}, "
                             f"expected one of {', '.join(modes)}")
    if settings.working_size < 2:
        raise InputError(f"{path}: fit setting 'working_size' is {settings.working_size}, expected at least 2")
    return settings


def _same_kind(value, default) -> bool:
    """``value`` could stand where ``default`` stands (a bool is not an int; an int is a float)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, numbers.Integral)
    if isinstance(default, float):
        return isinstance(value, numbers.Real)
    if isinstance(default, tuple):  # steps: saved as a list
        return isinstance(value, (list, tuple)) and len(value) > 0 and all(_same_kind(v, default[0]) for v in value)
    return isinstance(value, type(default))


REFITS = 3  # fits again without the still overlays found at most this many times


def fit_pair(a: np.ndarray, b: np.ndarray, settings: FitSettings | None = None, device="auto", progress=None,
             initial_field=None, prior=None) -> Pair:
    """Fit the warp from A to B ((H, W, 3) uint8 arrays of one size) and return a Pair.

    (H, W, 4) straight-alpha RGBA images are fitted premultiplied: the data term sees where
    the object is from its alpha as well as its colour, and never the colour under fully
    transparent pixels. An RGB image with an RGBA one: make both RGBA (imagefile.with_alpha).

    ``initial_field``: an optional (2, h, w) displacement to start from (a model's Phi_1).
    ``prior``: a pair prior (``img2gif.prior.PairPrior`` or its .pt path) whose Phi_1 for
    (A, B) starts the fit instead.
    """
    check_image_array(a, "fit_pair", "image A", (3, 4))  # arrays from the API obey the image files' limits too
    check_image_array(b, "fit_pair", "image B", a.shape[2:])  # B has A's channels
    if a.shape != b.shape:
        raise InputError(f"fit_pair: image A is {a.shape[1]}x{a.shape[0]} and image B is {b.shape[1]}x{b.shape[0]}; "
                         "they must be one size (see imagefile.match_size)")
    settings = settings or FitSettings()
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    ta, tb = to_tensor(a, dev), to_tensor(b, dev)
    if prior is not None:
        from .prior import PairPrior

        if initial_field is not None:
            raise OptionError("give a prior or an initial field to start the fit from, not both")
        if not starts_from_field(settings.velocity):
            raise OptionError(f"--prior needs a velocity that can start from a field (svf), not {settings.velocity!r}")
        prior = prior if isinstance(prior, PairPrior) else PairPrior.load(prior, device=dev)
        initial_field = prior.start_field(ta, tb)
    ode = fit_pair_tensors(ta, tb, settings, progress=progress, initial_field=initial_field)
    pair = Pair(a, b, ode, settings, dev)
    first = ode  # the fit with overlays: the first refit replaces it whatever (it drags them)
    mask = pair.still
    for _ in range(REFITS):
        if mask is None:
            break
        # still overlays held the motion around them back in that fit: fit again without them.
        # Each fit drags more of an overlay (less of it holds the motion back) and so finds more
        # of it: go on while the mask grows and the fit improves (generated camera moves with a
        # caption, scene PSNR: 22.2 dB after one refit, 23.6 after two; 27.4 with no caption)
        ode = fit_pair_tensors(ta, tb, settings, progress=progress, initial_field=initial_field, still=mask)
        found = Pair(a, b, ode, settings, dev).still
        grown = mask if found is None else torch.maximum(mask, found)
        refit = Pair(a, b, ode, settings, dev, still=grown)  # drawn unwarped: all this fit drags
        # a fit that ignores part of the frame can land in a worse basin elsewhere: keep it only
        # if it leaves less unexplained, both fits judged with the same still pixels
        if pair.ode is not first and refit.residual()[0] > Pair(a, b, pair.ode, settings, dev, still=grown).residual()[0]:
            break
        pair = refit
        if float(grown.sum()) <= 1.05 * float(mask.sum()):
            break
        mask = grown
    return pair


def fit_pairs(pairs, settings: FitSettings | None = None, device="auto", progress=None, initial_field=None) -> list[Pair]:
    """Fit several pairs ((A, B) arrays, all of one size) as one batch (``fit.fit_pairs_tensors``):
    each comes out as ``fit_pair`` fits it alone. ``initial_field``: one (2, h, w) start for all
    (the gap before's motion), or None. One pair, or still overlays looked for
    (``keep_still``): each is fitted by ``fit_pair``, one after another."""
    pairs = list(pairs)
    settings = settings or FitSettings()
    if len(pairs) == 1 or settings.keep_still != "off":
        count = len(pairs)
        return [fit_pair(a, b, settings, device, progress if progress is None or count == 1 else (
            lambda step, total, loss, k=k: progress(k * total + step, count * total, loss)), initial_field)
            for k, (a, b) in enumerate(pairs)]
    for k, (a, b) in enumerate(pairs):
        check_image_array(a, "fit_pairs", f"pair {k + 1} image A", (3, 4))
        check_image_array(b, "fit_pairs", f"pair {k + 1} image B", a.shape[2:])
        if a.shape != pairs[0][0].shape or b.shape != a.shape:
            raise InputError(f"fit_pairs: pair {k + 1} is not the size of the first; a batch is of one size")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    a = torch.cat([to_tensor(a, dev) for a, _ in pairs])
    b = torch.cat([to_tensor(b, dev) for _, b in pairs])
    odes = fit_pairs_tensors(a, b, settings, progress=progress, initial_fields=[initial_field] * len(pairs))
    return [Pair(a, b, ode, settings, dev) for (a, b), ode in zip(pairs, odes)]
