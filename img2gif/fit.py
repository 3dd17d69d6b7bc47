"""Fitting a pair, or N pairs as one batch: coarse-to-fine over an image pyramid (the paper's
Algorithm 1, paired)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from . import registry
from .errors import PluginError
from .ode import WarpODE, refuse_pair_velocity, warp_record
from .estimators import check_proposal, is_translation
from .optim import Adam
from .sizes import HeightWidth
from .still import fit_weight
from .velocity.base import CoarseToFine, Stacks, StartsFromField, StartsFromTranslation, has_hook
from .warp import check_image, resize_image, sample


_STEP_SCHEDULES = ("steps", "warm_steps")  # tuples of steps per level; saved as lists


@dataclass
class FitSettings:
    """Everything that decides a fit; saved in the pair file so it can be reproduced."""

    velocity: str = "svf"
    velocity_config: dict = field(default_factory=dict)
    solver: str = "scaling-squaring"
    solver_config: dict = field(default_factory=dict)
    loss: str = "charbonnier"
    working_size: int = 256          # longer side of the image the fit sees
    pyramid_levels: int = 3          # each level halves the working size
    steps: tuple = (80, 50, 30)      # optimiser steps per level, coarse -> fine
    # steps per level for a gap of a keyframe path or a video, whose fit starts from the gap
    # before's field refined by block matching: the coarse and middle levels only, a quarter to
    # a third of the full schedule's time for 0.11 dB on generated scenes (BENCHMARKS.md, "Warm gaps") and none
    # on real video (BENCHMARKS.md); set on its own, it does not follow ``steps``
    warm_steps: tuple = (20, 20, 0)
    learning_rate: float = 0.002
    gradient_weight: float = 1.0     # data term on image gradients: survives lighting change
    smoothness_weight: float = 1.0
    jacobian_weight: float = 10.0
    outgrid_weight: float = 1.0
    search: bool = True              # exhaustive translation search at the coarsest level
    search_reach: float = 0.25       # fraction of the frame the search covers each way
    grid_spacing: int = 4            # svf: working-image pixels per cell of the finest velocity grid
    hypotheses: int = 1              # starting shifts fitted at the coarsest level; the best is kept
    # block matching (img2gif.correspondence) refines the start field per pixel, around the
    # global shift or the given start: reach for parts that move on their own. Only a velocity
    # that can start from a field (svf) uses it; others start as before.
    match: bool = True
    # a motion estimator (entry-point group img2gif.estimators) that proposes the start field
    # instead of the shift search and block matching; "" = those built-ins
    estimator: str = ""
    estimator_config: dict = field(default_factory=dict)
    # still overlays (img2gif.still): "auto" finds textured pixels the same in A and B that the
    # fit drags along (captions, logos); fit_pair fits again with the data term ignoring them,
    # and the renderer draws them unwarped. "off": every pixel is warped (the old behaviour).
    # Off by default until it is measured on real clips (the benchmark sets) and in the video
    # path's speed: on generated scenes it loses nothing, and a pair with a caption fits 3.2-3.7x longer
    keep_still: str = "off"
    # motion refined above the working size (img2gif.refine): "auto" refines the fitted fields
    # level by level towards the image's size (up to 640x360 for 720p) where the image is larger
    # than the working size; "off": the working size's fields, upsampled (the only way before)
    refine: str = "auto"
    seed: int = 0

    def check(self) -> None:
        """Refuse settings a fit cannot use (OptionError), before any work."""
        from .errors import OptionError

        if self.loss in registry.available("penalties"):
            raise OptionError(f"--loss {self.loss!r} is a penalty on the field, not a data loss; "
                              "choose charbonnier, l2 or a plugin's")
        from .still import MODES as STILL_MODES

        if self.keep_still not in STILL_MODES:
            raise OptionError(f"--keep-still must be one of {', '.join(STILL_MODES)}, got {self.keep_still!r}")
        from .refine import check_mode as check_refine

        check_refine(self.refine)
        if self.estimator and self.estimator not in registry.available("estimators"):
            known = ", ".join(registry.available("estimators"))
            raise OptionError(f"unknown --estimator {self.estimator!r}; known: {known}")
        if self.estimator and not starts_from_field(self.velocity):
            raise OptionError(f"--estimator needs a velocity that can start from a field (svf), not {self.velocity!r}")
        if not 16 <= int(self.working_size) <= 2048:
            raise OptionError(f"--working-size must be between 16 and 2048, got {self.working_size}")
        if not 0 <= int(self.seed) <= 2**63 - 1:
            raise OptionError(f"--seed must be between 0 and 2^63 - 1, got {self.seed}")
        for name in _STEP_SCHEDULES:
            value = tuple(getattr(self, name))
            if not value or any(int(v) < 0 for v in value) or sum(int(v) for v in value) == 0:
                raise OptionError(f"{name} must be one or more step counts >= 0, not all 0, got {list(value)}")
            levels = max(1, int(self.pyramid_levels))
            if sum(int(v) for v in steps_per_level(value, levels)) == 0:
                raise OptionError(f"{name} {list(value)} runs no steps on {levels} pyramid level(s): "
                                  f"give steps to one of the first {levels}")

    def warm(self) -> "FitSettings":
        """These settings for a fit that starts from the neighbouring gap's field: ``warm_steps``.
        A velocity that cannot start from a field (not svf) keeps ``steps``: its fit starts
        afresh, and the short schedule was measured only for a warm start."""
        if not starts_from_field(self.velocity):
            return self
        return replace(self, steps=tuple(self.warm_steps))

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        for name in _STEP_SCHEDULES:
            d[name] = list(getattr(self, name))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FitSettings":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known.setdefault("match", False)  # a record from before matching existed was fitted without it
        known.setdefault("keep_still", "off")  # ... and one from before still overlays, without them
        known.setdefault("refine", "off")  # ... and one from before refinement, unrefined
        for name in _STEP_SCHEDULES:
            if name in known:
                known[name] = tuple(known[name])
        return cls(**known)


def steps_per_level(schedule, levels: int) -> list:
    """The steps a fit over ``levels`` pyramid levels runs at each, coarse to fine: the first
    ``levels`` of ``schedule``, its last count repeated where it is shorter."""
    schedule = list(schedule)
    return (schedule + schedule[-1:] * max(0, levels - len(schedule)))[:levels]


def working_shape(height: int, width: int, working_size: int) -> HeightWidth:
    """(h, w) with the longer side at most ``working_size``, aspect kept."""
    scale = min(1.0, working_size / max(height, width))
    return HeightWidth(max(2, round(height * scale)), max(2, round(width * scale)))


def _gradients(x):
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def starts_from_field(velocity: str) -> bool:
    """Whether the velocity backend ``velocity`` can start a fit from a field (what --prior
    and block matching need)."""
    return has_hook(registry.load("velocity", velocity), StartsFromField)


def build_ode(settings: FitSettings, channels: int, shape: tuple[int, int]) -> WarpODE:
    """The warp a fit of a ``channels``-channel image at working ``shape`` (h, w) starts from."""
    record = warp_record(settings.velocity, settings.solver, settings.velocity_config, settings.solver_config)
    ode = WarpODE.from_record(record, channels=channels, field_shape=tuple(shape),
                              pyramid_levels=max(1, settings.pyramid_levels), cell=settings.grid_spacing)
    refuse_pair_velocity(ode)
    return ode


def fit_pair_tensors(a: torch.Tensor, b: torch.Tensor, settings: FitSettings | None = None, progress=None,
                     initial_field: torch.Tensor | None = None, still: torch.Tensor | None = None) -> WarpODE:
    """Fit a WarpODE so that a o (id + Phi_1) matches b.

    Args:
        a, b: (1, C, H, W) images in [0, 1] of the same size.
        settings: a FitSettings (defaults if None).
        progress: optional callable(step, total, loss) called after each step.
        initial_field: optional (2, h, w) or (1, 2, h, w) displacement to start from (for
            example a trained model's Phi_1); replaces the translation search.
        still: optional (1, 1, H, W) mask of still pixels (``img2gif.still.still_mask``, 1 =
            still): the data term ignores them, so an overlay does not hold the scene's motion back.
    Returns:
        the fitted WarpODE, on a's device, in eval mode.
    """
    settings = settings or FitSettings()
    settings.check()
    check_image(a, "a")
    check_image(b, "b")
    if a.shape != b.shape or a.shape[0] != 1:
        raise ValueError(f"a and b must both be (1, C, H, W) of one size, got {tuple(a.shape)} and {tuple(b.shape)}")
    return _fit_one(_FitStart(a, b, settings, initial_field, still), settings, progress, still)


def _fit_one(start: "_FitStart", settings: FitSettings, progress, still) -> WarpODE:
    """The coarse-to-fine fit of one pair from its ``start``."""
    ode, velocity, starts = start.ode, start.ode.velocity, start.starts
    steps, sizes = start.steps, start.sizes
    _start_velocity(velocity, starts[0], start.level_of_start)

    done, total = 0, start.total_steps
    losses = _losses(settings)
    for level, size in enumerate(sizes):
        start.set_level(velocity, level)
        a_l, b_l = resize_image(start.a_work, size), resize_image(start.b_work, size)
        weight = None if still is None else fit_weight(still.to(a_l), size)
        if level == 0 and len(starts) > 1:
            # several starting shifts: fit each at the (cheap) coarsest level, keep the best
            best = None
            for proposal in starts:
                _start_velocity(velocity, proposal, start.level_of_start)
                loss, done = _fit_level(ode, a_l, b_l, size, steps[0], settings, losses, progress, done, total, weight)
                if best is None or loss < best[0]:
                    best = (loss, {k: v.clone() for k, v in ode.state_dict().items()})
            ode.load_state_dict(best[1])
            continue
        _, done = _fit_level(ode, a_l, b_l, size, steps[level], settings, losses, progress, done, total, weight)
    start.set_level(velocity, None)
    return ode.eval()


def batches(settings: FitSettings) -> bool:
    """Whether fits under ``settings`` run as one batch (``fit_pairs_tensors``), each as it
    would alone: the velocity stacks (``velocity.base.Stacks``: svf), the solver takes fixed
    steps (an adaptive one, dopri5, would choose one step for the whole batch) and still
    overlays are not looked for (each pair's refits are its own)."""
    solver = registry.load("solvers", settings.solver)
    return (has_hook(registry.load("velocity", settings.velocity), Stacks) and not getattr(solver, "adaptive", False)
            and settings.keep_still == "off")


def fit_pairs_tensors(a: torch.Tensor, b: torch.Tensor, settings: FitSettings | None = None, progress=None,
                      initial_fields=None) -> list[WarpODE]:
    """Fit N pairs at once: the WarpODE of each, as ``fit_pair_tensors`` fits it alone.

    Args:
        a, b: (N, C, H, W) images in [0, 1], pair i being (a[i], b[i]).
        settings: one FitSettings for all (defaults if None; ``keep_still`` must be off).
        progress: optional callable(step, total, loss) after each step of the batch.
        initial_fields: None, or N (2, h, w) displacements or None to start each from.
    Each pair starts as it would alone and runs the same steps; its loss is its own (the batch
    minimises their sum, and Adam is per element), so each comes out as its own fit would, up
    to float rounding (the built-in losses and penalties are means over the batch; a plugin
    loss that sums over it would weigh the pairs differently). One batch where ``batches``
    (settings) and every pair has one start; otherwise the pairs are fitted one after another.
    """
    settings = settings or FitSettings()
    settings.check()
    check_image(a, "a")
    check_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be (N, C, H, W) of one size, got {tuple(a.shape)} and {tuple(b.shape)}")
    if settings.keep_still != "off":
        raise ValueError("a batch of fits does not look for still overlays: fit each pair with fit_pair")
    count = a.shape[0]
    initial_fields = list(initial_fields) if initial_fields is not None else [None] * count
    if len(initial_fields) != count:
        raise ValueError(f"{count} pairs need as many initial fields (or None), got {len(initial_fields)}")
    starts = [_FitStart(a[i:i + 1], b[i:i + 1], settings, initial_fields[i], None) for i in range(count)]
    if count == 1 or not batches(settings) or any(len(start.starts) > 1 for start in starts):
        # one after another, from the starts already made; progress counts over all of them
        totals = [start.total_steps for start in starts]
        before = [sum(totals[:k]) for k in range(count)]
        return [_fit_one(start, settings, progress if progress is None or count == 1 else (
            lambda step, total, loss, k=k: progress(before[k] + step, sum(totals), loss)), None)
            for k, start in enumerate(starts)]
    velocities = [start.ode.velocity for start in starts]
    for start, velocity in zip(starts, velocities):
        _start_velocity(velocity, start.starts[0], start.level_of_start)
    first = starts[0]
    stacked = velocities[0].stack(velocities)
    batch = WarpODE(stacked, first.ode.solver).to(a.device)
    a_work = torch.cat([start.a_work for start in starts])
    b_work = torch.cat([start.b_work for start in starts])
    done, total, losses = 0, sum(first.steps), _losses(settings)
    for level, size in enumerate(first.sizes):
        first.set_level(stacked, level)
        a_l, b_l = resize_image(a_work, size), resize_image(b_work, size)
        _, done = _fit_level(batch, a_l, b_l, size, first.steps[level], settings, losses, progress, done, total)
    stacked.unstack_into(velocities)
    return [start.ode.eval() for start in starts]


class _FitStart:
    """What a fit of one pair starts from: its warp at rest, the working images, the pyramid's
    sizes and steps, and the estimators' starting proposals (a list; [None]: at rest)."""

    def __init__(self, a, b, settings: FitSettings, initial_field, still):
        torch.manual_seed(settings.seed)
        work = working_shape(a.shape[2], a.shape[3], settings.working_size)
        self.ode = build_ode(settings, a.shape[1], work).to(a.device)
        levels = max(1, settings.pyramid_levels)
        self.steps = steps_per_level(settings.steps, levels)
        self.sizes = [(max(8, round(work[0] / 2**k)), max(8, round(work[1] / 2**k))) for k in reversed(range(levels))]
        self.a_work, self.b_work = resize_image(a, work), resize_image(b, work)
        velocity = self.ode.velocity
        self.active = None
        if has_hook(velocity, CoarseToFine):
            n = velocity.levels
            self.active = [max(1, n - (levels - 1 - level) * max(1, n // levels)) for level in range(levels)]
        start = None
        if initial_field is not None and has_hook(velocity, StartsFromField):
            start = initial_field.reshape(1, 2, *initial_field.shape[-2:]).to(a)
        for name, estimator in _estimators(settings, velocity, given_start=start is not None):
            start = check_proposal(estimator.propose(self.a_work, self.b_work, start=start, still=still), name, self.a_work)
        self.starts = [None] if start is None else list(start.split(1))
        self.level_of_start = (self.active[0] - 1) if self.active else 0

    @property
    def total_steps(self) -> int:
        """Optimiser steps of its fit: every level's, and the coarsest level's again for each
        further starting proposal."""
        return sum(self.steps) + self.steps[0] * (len(self.starts) - 1)

    def set_level(self, velocity, level: int | None) -> None:
        """Enable a coarse-to-fine velocity's grids for pyramid ``level`` (None: all of them)."""
        if self.active is not None:
            velocity.active_levels = velocity.levels if level is None else self.active[level]


def _losses(settings: FitSettings) -> tuple:
    """(data loss, jacobian, outgrid, smoothness), loaded from the registry."""
    return (registry.load("losses", settings.loss), registry.load("penalties", "jacobian"),
            registry.load("penalties", "outgrid"), registry.load("penalties", "smoothness"))


def _estimators(settings: FitSettings, velocity, given_start: bool) -> list:
    """(name, estimator) pairs that propose the start, run in order, each refining the last:
    ``settings.estimator`` alone, or the built-ins: the shift search (a velocity that can
    start from a translation, when no start is given) then block matching (``match``, a
    velocity that can start from a field)."""
    if settings.estimator:
        return [(settings.estimator, _build_estimator(settings.estimator, settings.estimator_config))]
    match = settings.match and has_hook(velocity, StartsFromField)
    chain = []
    if settings.search and not given_start and has_hook(velocity, StartsFromTranslation):
        # matching refines one start, so it needs only the best shift
        count = 1 if match else max(1, settings.hypotheses)
        chain.append(("shift", _build_estimator("shift", {"reach": settings.search_reach, "count": count})))
    if match:
        chain.append(("blocks", _build_estimator("blocks", {})))
    return chain


def _build_estimator(name: str, config: dict):
    cls = registry.load("estimators", name)
    try:
        estimator = cls(**config)
    except Exception as exc:  # a third-party plugin may fail in any way
        raise PluginError(f"estimator {name!r} could not be built from {config}: {type(exc).__name__}: {exc}") from None
    if not callable(getattr(estimator, "propose", None)):
        raise PluginError(f"estimator {name!r} has no propose(a, b, start=, still=) method")
    return estimator


def _start_velocity(velocity, proposal, level: int) -> None:
    """Set the velocity to start from one proposal (1, 2, h, w), or leave it at rest (None):
    a 1x1 proposal as a translation where the velocity takes one, else as a field. (For a
    smooth warp, log(id + Phi_1) ~ Phi_1: the displacement is a good first velocity.)"""
    if proposal is None:
        return
    if is_translation(proposal) and has_hook(velocity, StartsFromTranslation):
        velocity.set_translation(float(proposal[0, 0, 0, 0]), float(proposal[0, 1, 0, 0]))
    elif has_hook(velocity, StartsFromField):
        velocity.set_field(proposal, level=level)


def _fit_level(ode, a_l, b_l, size, n_steps, settings, losses, progress, done, total, weight=None):
    """Adam on one pyramid level; returns (the last loss, steps done so far). ``a_l``, ``b_l``:
    (N, C, h, w), N pairs fitted as one batch (``ode``'s velocity holds N); ``weight``: None or
    (N, 1, h, w), the data term's weight per pixel (0 on still overlays)."""
    data_loss, jacobian, outgrid, smoothness = losses
    n = a_l.shape[0]
    times = torch.tensor([0.5, -0.5, 1.0, -1.0], device=a_l.device)
    optimiser = Adam(ode.parameters(), lr=settings.learning_rate)
    loss = torch.zeros(())
    for _ in range(n_steps):
        phi = ode.fields(a_l, times, size)  # (4, N, 2, h, w)
        # each image sampled at its two times in one call (half the sampling calls)
        a_half, a_end = sample(a_l.repeat(2, 1, 1, 1), phi[0::2].flatten(0, 1)).split(n)
        b_half, b_start = sample(b_l.repeat(2, 1, 1, 1), phi[1::2].flatten(0, 1)).split(n)
        loss = 0.0
        for pred, target in ((a_half, b_half), (a_end, b_l), (b_start, a_l)):
            if weight is not None:  # a still pixel is at the same place in every frame compared
                pred, target = pred * weight, target * weight
            loss = loss + data_loss(pred, target)
            if settings.gradient_weight:
                # the weight's own edge is in both gradients alike: only the images' differ
                for gp, gt in zip(_gradients(pred), _gradients(target)):
                    loss = loss + settings.gradient_weight * data_loss(gp, gt)
        loss = loss + settings.jacobian_weight * jacobian(phi[2:], margin=0.05)
        loss = loss + settings.outgrid_weight * outgrid(phi[2:3])
        loss = loss + settings.smoothness_weight * smoothness(phi[2])
        if n > 1:  # every term is a mean over the batch: the sum of the pairs' own losses
            loss = loss * n
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        done += 1
        if progress is not None:
            progress(done, total, float(loss.detach()) / n)  # a pair's loss, batched or not
    return float(loss.detach()) / n, done
