"""A learned motion prior for a pair: ``pair-unet`` trained on generated scenes with known motion.

One readable loop (:func:`train_prior`): each step draws a batch of layered scenes
(``img2gif.scenes``: A, B, the true frames at ``times`` and the true fields), integrates
the pair velocity from A towards B with the ``compose`` solver and is scored on

* the true in-between frames and B (Charbonnier, where the true field says the point was
  visible in A: what A does not show cannot be warped into place),
* the true fields there (end-point error in pixels, weight ``field_weight``),
* folding (negative Jacobian determinants) and leaving the frame, as every img2gif warp.

The checkpoint (kind ``img2gif.prior``) holds the warp's record, weights, settings and, for
``resume``, the optimiser and random state; scene ``k`` of step ``s`` is the generator's scene
``seed * 10**9 + (s - 1) * batch_size + k`` (modulo ``scene_pool`` when set), so a resumed run
sees exactly the data it would have.
:class:`PairPrior` loads one and gives Phi_t for a pair of images of any size.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from . import checkpoint, registry
from .errors import InputError, OptionError
from .ode import WarpODE, warp_record
from .scenes import SceneGenerator, SceneSettings
from .warp import check_image, sample, to_pixels

KIND = "img2gif.prior"


@dataclass
class PriorSettings:
    """Everything that decides a prior's training run; saved in its checkpoint."""

    size: int = 128                  # scenes are size x size
    steps: int = 2000
    batch_size: int = 8
    learning_rate: float = 5e-4
    times: tuple = (0.25, 0.5, 0.75)  # in-between frames scored, besides t = 1 (B)
    width: int = 16
    depth: int = 3
    step_size: float = 0.25           # compose steps
    field_weight: float = 0.02        # per pixel of end-point error, where the true field is valid
    jacobian_weight: float = 100.0
    jacobian_margin: float = 0.1
    outgrid_weight: float = 1.0
    scenes: dict = field(default_factory=dict)  # SceneSettings overrides (size comes from ``size``)
    workers: int = 0                  # DataLoader processes generating scenes (0: in the loop)
    scene_pool: int = 0               # 0: a new scene every time; N: cycle through N scenes (tests, overfitting checks)
    checkpoint_every: int = 200
    seed: int = 0

    def check(self) -> None:
        if self.size < 16 or self.size > 1024 or self.size % 8:
            raise OptionError(f"--size must be a multiple of 8 between 16 and 1024, got {self.size}")
        if not 1 <= self.steps <= 10_000_000 or not 1 <= self.batch_size <= 1024:
            raise OptionError(f"--steps must be 1 ... 10,000,000 and --batch-size 1 ... 1024, got {self.steps}, {self.batch_size}")
        if not 0 < self.learning_rate <= 1 or not math.isfinite(self.learning_rate):
            raise OptionError(f"--lr must be > 0 and at most 1, got {self.learning_rate}")
        if not self.times or any(not 0 < t < 1 for t in self.times) or list(self.times) != sorted(set(self.times)):
            raise OptionError(f"--times must be increasing, each strictly between 0 and 1, got {list(self.times)}")
        if min(self.field_weight, self.jacobian_weight, self.outgrid_weight) < 0:
            raise OptionError("the loss weights must be >= 0")
        if self.workers < 0 or self.checkpoint_every < 1 or self.scene_pool < 0:
            raise OptionError(f"--workers and --scene-pool must be >= 0 and --checkpoint-every >= 1, got "
                              f"{self.workers}, {self.scene_pool}, {self.checkpoint_every}")
        self.scene_settings()  # a bad override is refused now

    def scene_settings(self) -> SceneSettings:
        try:
            return SceneSettings(**{**self.scenes, "size": (self.size, self.size)})
        except (TypeError, ValueError) as exc:
            raise OptionError(f"scene settings: {exc}") from None

    def warp_record(self) -> dict:
        return warp_record("pair-unet", "compose", {"image_channels": 3, "width": self.width, "depth": self.depth},
                           {"step_size": self.step_size})


class _Scenes(torch.utils.data.Dataset):
    """Scene i of a run, for a DataLoader (its workers each build their own generator)."""

    def __init__(self, settings: PriorSettings, first: int, count: int, photos=None):
        self.settings, self.first, self.count, self.photos = settings, first, count, photos
        self._generator = None

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        if self._generator is None:
            self._generator = SceneGenerator(self.settings.scene_settings(), photos=self.photos)
        index = self.first + i
        if self.settings.scene_pool:
            index %= self.settings.scene_pool
        s = self._generator.scene(self.settings.seed * 10**9 + index, times=list(self.settings.times) + [1.0])
        return s.a, s.frames, s.fields, s.valid


def _batches(settings: PriorSettings, start_step: int, photos=None):
    """(a, frames, fields, valid) per step from ``start_step + 1`` on; frames etc. are (T, B, ...)."""
    first = start_step * settings.batch_size
    data = _Scenes(settings, first, (settings.steps - start_step) * settings.batch_size, photos)
    loader = torch.utils.data.DataLoader(data, batch_size=settings.batch_size, num_workers=settings.workers,
                                         persistent_workers=settings.workers > 0)
    for a, frames, fields, valid in loader:
        yield a, frames.transpose(0, 1), fields.transpose(0, 1), valid.transpose(0, 1)


def prior_losses(ode: WarpODE, a, frames, fields, valid, settings: PriorSettings) -> dict:
    """The terms of the training loss for one batch (tensors; ``total`` is what is minimised)."""
    charbonnier = registry.load("losses", "charbonnier")
    jacobian = registry.load("penalties", "jacobian")
    outgrid = registry.load("penalties", "outgrid")
    times = list(settings.times) + [1.0]
    size = a.shape[-2:]
    b = frames[-1]
    phi = ode.fields(torch.cat([a, b], 1), times, size)  # (T, B, 2, H, W)
    mask = valid.to(phi.dtype)
    data = sum(charbonnier(sample(a, phi[k]) * mask[k], frames[k] * mask[k]) for k in range(len(times))) / len(times)
    epe = (to_pixels(phi - fields).norm(dim=2, keepdim=True) * mask).sum() / mask.sum().clamp_min(1.0)
    folds = jacobian(phi, margin=settings.jacobian_margin)
    out = outgrid(phi)
    total = data + settings.field_weight * epe + settings.jacobian_weight * folds + settings.outgrid_weight * out
    return {"total": total, "frames": data, "epe_px": epe, "folds": folds, "outgrid": out}


# What a resumed run must keep: the model's shape and the data stream (scene k of step s).
RESUME_KEEPS = ("size", "width", "depth", "step_size", "seed", "batch_size", "times", "scenes", "scene_pool")


def train_prior(settings: PriorSettings, output, *, device="cpu", resume: bool = False, progress=None,
                photos=None, log=None) -> WarpODE:
    """Train a pair prior; writes ``output`` (kind ``img2gif.prior``) every ``checkpoint_every`` steps.

    ``progress(step, total, losses: dict of floats)`` per step; ``log(text)`` for changed options on
    resume. ``photos``: the scenes' photos (default: scikit-image's sample photos). An existing
    ``output`` is continued with ``resume`` and refused without it. An interruption (Ctrl-C, the
    clock of a device run) saves the last finished step first. Returns the trained warp.
    """
    from .safefile import check_writable_file

    settings.check()
    output = Path(os.fspath(output))
    if output.suffix != ".pt":
        raise OptionError(f"{output}: a checkpoint must end in .pt")
    check_writable_file(output)
    if not resume and output.exists():
        raise OptionError(f"{output}: exists; continue it with --resume, or give another -o")
    if resume and not output.is_file():
        raise OptionError(f"{output}: no checkpoint to resume")
    torch.manual_seed(settings.seed)  # the first weights, before anything else draws
    try:
        SceneGenerator(settings.scene_settings(), photos=photos)  # the photos are there: now, not in a worker
        ode = WarpODE.from_record(settings.warp_record())
    except (ModuleNotFoundError, FileNotFoundError, ValueError, TypeError) as exc:
        raise OptionError(str(exc)) from None
    device = torch.device(device)
    ode = ode.to(device)
    opt = torch.optim.Adam(ode.velocity.parameters(), lr=settings.learning_rate)
    start = 0
    if resume:
        start = _resume(output, settings, ode, opt, log)


    def save(step):
        checkpoint.save(output, {
            **ode.record(),
            "state_dict": {k: v.detach().cpu() for k, v in ode.velocity.state_dict().items()},
            "image_size": settings.size, "channels": 3, "prior": _jsonable(asdict(settings)), "step": step,
            "training_state": {"optimiser": opt.state_dict(), "torch_rng": torch.get_rng_state()},
        }, KIND)

    step = last_saved = start
    try:
        for a, frames, fields, valid in _batches(settings, start, photos):
            a, frames, fields, valid = (x.to(device, non_blocking=True) for x in (a, frames, fields, valid))
            losses = prior_losses(ode, a, frames, fields, valid, settings)
            if not torch.isfinite(losses["total"]):
                raise OptionError(f"loss became {float(losses['total'])} at step {step + 1}; the last checkpoint is kept; "
                                  "try a lower --lr")
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            opt.step()
            step += 1
            if progress is not None:
                progress(step, settings.steps, {k: float(v.detach()) for k, v in losses.items()})
            if step % settings.checkpoint_every == 0 or step == settings.steps:
                save(step)
                last_saved = step
    except KeyboardInterrupt:
        if step > last_saved:  # a stopped device run keeps every finished step
            save(step)
        raise
    return ode.eval()


def _resume(output: Path, settings: PriorSettings, ode: WarpODE, opt, log) -> int:
    """Load ``output``'s weights and optimiser into ``ode``/``opt``; its step. Refuses what cannot go on."""
    record = checkpoint.load(output, KIND)
    saved, state, step = record.get("prior"), record.get("training_state"), record.get("step")
    if not isinstance(saved, dict) or not isinstance(state, dict) or not isinstance(step, int) \
            or not {"optimiser", "torch_rng"} <= set(state):
        raise OptionError(f"{output}: holds no training state to resume from (a shipped prior?)")
    ours = _jsonable(asdict(settings))
    for key in RESUME_KEEPS:
        if saved.get(key) != ours[key]:
            raise OptionError(f"{output}: cannot resume with {key} {ours[key]}: it was trained with {saved.get(key)}")
    if step >= settings.steps:
        raise OptionError(f"{output}: already trained {step} steps; give --steps above {step} to go on")
    changed = [f"{k} {saved.get(k)} -> {v}" for k, v in ours.items() if k not in RESUME_KEEPS and saved.get(k) != v]
    if changed and log is not None:
        log(f"resuming {output} at step {step} with changed options: {'; '.join(changed)}")
    try:
        ode.velocity.load_state_dict(record["state_dict"])
        opt.load_state_dict(state["optimiser"])
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise OptionError(f"{output}: its weights or optimiser do not fit these settings ({str(exc)[:160]})") from None
    for group in opt.param_groups:  # the saved optimiser brings its own rate: this run's wins
        group["lr"] = settings.learning_rate
    torch.set_rng_state(state["torch_rng"])
    return step


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


class PairPrior:
    """A trained prior: Phi_t from A towards B for images of any size."""

    def __init__(self, ode: WarpODE, size: int, record: dict):
        self.ode, self.size, self.record = ode.eval(), size, record

    @classmethod
    def load(cls, path, device="cpu") -> "PairPrior":
        record = checkpoint.load(path, KIND, map_location=device)
        size = record.get("image_size")
        if not isinstance(size, int) or not 16 <= size <= 1024:
            raise InputError(f"{path}: field 'image_size' must be a whole number 16 ... 1024, got {checkpoint.shorten(size)}")
        ode = checkpoint.rebuild_warp(record, path, runs_at=(size, size))  # about size x size pixels for any pair
        if not getattr(ode.velocity, "sees_pair", False):
            raise InputError(f"{path}: a prior's velocity must see both images (pair-unet), not {ode.velocity.name!r}")
        if ode.velocity.config().get("image_channels") != 3:
            raise InputError(f"{path}: a prior must take RGB images (image_channels 3), not {ode.velocity.config().get('image_channels')}")
        try:
            ode.velocity.load_state_dict(record["state_dict"])
        except (RuntimeError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: the weights do not fit the velocity ({str(exc)[:160]})") from None
        return cls(ode.to(device), size, record)

    def prior_shape(self, height: int, width: int) -> tuple[int, int]:
        """The (h, w) it runs at: about ``size`` x ``size`` pixels in all (an area, not a longest side),
        the pair's aspect, multiples of 8."""
        scale = math.sqrt(self.size * self.size / (height * width))
        return max(16, round(height * scale / 8) * 8), max(16, round(width * scale / 8) * 8)

    def start_field(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(1, 2, h, w): Phi_1 for A, B (1, 3, H, W), the field a pair fit starts from."""
        return self.fields(a, b, (1.0,))[0]

    @torch.no_grad()
    def fields(self, a: torch.Tensor, b: torch.Tensor, times=(1.0,)) -> torch.Tensor:
        """(T, N, 2, h, w) fields at the working shape for A, B (N, 3, H, W) in [0, 1]."""
        check_image(a, "a")
        check_image(b, "b")
        if a.shape != b.shape or a.shape[1] != 3:
            raise ValueError(f"a and b must be (N, 3, H, W) of one size, got {tuple(a.shape)} and {tuple(b.shape)}")
        shape = self.prior_shape(*a.shape[-2:])
        small = [F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=True) for x in (a, b)]
        return self.ode.fields(torch.cat(small, 1), list(times), shape)
