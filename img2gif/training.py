"""Learning a warp from a data set: the paper's Algorithm 1, paired or unpaired (WGAN-GP).

One readable loop. A run writes one checkpoint file (atomically, every ``checkpoint_every``
steps and at the end) that holds the model and, for ``--resume``, the optimisers, the
critic and the random states; sample sheets go beside it.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image

from . import checkpoint, registry, sheets
from .critic import Critic, gradient_penalty
from .errors import Img2GifError, OptionError
from .ode import IncompatibleBackends, WarpODE, refuse_pair_velocity, warp_record
from .velocity.base import unwrap
from .warp import sample

SAMPLE_TIMES = (0.25, 0.5, 0.75, 1.0)  # where penalties are taken and sample sheets drawn


class TrainingError(Img2GifError):
    """Training cannot go on (the loss diverged)."""


@dataclass
class TrainSettings:
    """Everything that decides a training run; saved in its checkpoint."""

    paired: bool = False
    size: int = 32
    channels: int = 1
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 1e-3
    critic_learning_rate: float = 1e-4
    critic_iters: int = 5
    gp_weight: float = 10.0
    loss: str = "l2"
    cycle_weight: float = 10.0
    jacobian_weight: float = 100.0
    jacobian_margin: float = 0.1     # det below this is penalised: keeps clear of folds
    outgrid_weight: float = 1.0
    # "move only what must move": weight of mean(mask * |Phi_t|^2 px^2); the mask (a grayscale
    # image, white = keep still) says where; none = everywhere
    still_weight: float = 0.0
    still_mask: str | None = None
    velocity: str = "unet"
    velocity_config: dict = field(default_factory=dict)  # unet: width 16, depth 2 unless given
    # compose: exact composition steps keep the Eulerian unet's warp from folding (see solvers/compose.py)
    solver: str = "compose"
    solver_config: dict = field(default_factory=lambda: {"step_size": 0.25})
    sample_every: int = 200
    checkpoint_every: int = 200
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> "TrainSettings":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def check(self) -> None:
        _check_numbers(self)
        if self.size < 8 or self.size > 1024 or self.size & (self.size - 1):
            raise OptionError(f"--size must be a power of two between 8 and 1024, got {self.size}")
        if self.channels not in (1, 3, 4):
            raise OptionError(f"--channels must be 1, 3 or 4, got {self.channels}")
        if not 1 <= self.batch_size <= 4096:
            raise OptionError(f"--batch-size must be between 1 and 4096, got {self.batch_size}")
        if not 1 <= self.steps <= 10_000_000:
            raise OptionError(f"--steps must be between 1 and 10,000,000, got {self.steps}")
        if not 1 <= self.critic_iters <= MAX_CRITIC_ITERS:
            raise OptionError(f"--critic-iters must be between 1 and {MAX_CRITIC_ITERS}, got {self.critic_iters}")
        if self.jacobian_weight < 0 or not 0 <= self.jacobian_margin < 1:
            raise OptionError(f"--fold-weight must be >= 0 and --fold-margin in [0, 1); got {self.jacobian_weight}, {self.jacobian_margin}")
        for option, value in (("--lr", self.learning_rate), ("critic learning rate", self.critic_learning_rate)):
            if not 0 < value <= 1:
                raise OptionError(f"{option} must be > 0 and at most 1, got {value}")
        if self.cycle_weight < 0 or self.outgrid_weight < 0 or self.gp_weight < 0:
            raise OptionError(f"--cycle and the penalty weights must be >= 0, got cycle {self.cycle_weight}")
        if self.still_weight < 0:
            raise OptionError(f"--still-weight must be >= 0, got {self.still_weight}")
        if self.still_mask is not None and not self.still_weight:
            raise OptionError("--still-mask says where --still-weight applies: give --still-weight too")
        if self.checkpoint_every < 1:
            raise OptionError(f"--checkpoint-every must be >= 1, got {self.checkpoint_every}")
        if self.sample_every < 0:
            raise OptionError(f"--sample-every must be >= 0 (0: never), got {self.sample_every}")
        if not 0 <= self.seed <= MAX_SEED:
            raise OptionError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if self.loss in registry.available("penalties"):
            raise OptionError(f"--loss {self.loss!r} is a penalty on the field, not a data loss; choose l2, charbonnier or a plugin's")
        step = self.solver_config.get("step_size") if isinstance(self.solver_config, dict) else None
        if step is not None and not (isinstance(step, (int, float)) and MIN_STEP_SIZE <= step <= 1):
            raise OptionError(f"--step-size must be between {MIN_STEP_SIZE:g} and 1 (at most {round(1 / MIN_STEP_SIZE)} "
                              f"steps per unit time), got {step}")

    # What shapes the model and the data: a resumed run must keep them (see check_resume).
    SHAPING = ("size", "channels", "velocity", "solver", "paired")

    def check_resume(self, saved: "TrainSettings", where) -> list[str]:
        """Refuse a resume that changes what the model is; returns the other options that changed."""
        names = {"size": "--size", "channels": "--channels", "velocity": "--velocity", "solver": "--solver",
                 "paired": "--paired/--unpaired"}
        for key in self.SHAPING:
            if getattr(self, key) != getattr(saved, key):
                raise OptionError(f"{where}: cannot resume with {names[key]} {_shown(key, getattr(self, key))}: "
                                  f"the checkpoint was trained with {_shown(key, getattr(saved, key))}")
        if self.velocity_config != saved.velocity_config or self.solver_config != saved.solver_config:
            if self.velocity_config != saved.velocity_config:
                raise OptionError(f"{where}: cannot resume with another velocity configuration "
                                  f"({self.velocity_config} vs {saved.velocity_config})")
        changed = []
        for key in self.__dataclass_fields__:
            if key in self.SHAPING or key == "velocity_config":
                continue
            if getattr(self, key) != getattr(saved, key):
                changed.append(f"{key} {getattr(saved, key)} -> {getattr(self, key)}")
        return changed


def _shown(key, value):
    if key == "paired":
        return "--paired" if value else "--unpaired"
    return value


MAX_CRITIC_ITERS = 100
MAX_SEED = 2**63 - 1
MIN_STEP_SIZE = 1e-3


_OPTION = {"learning_rate": "--lr", "cycle_weight": "--cycle", "jacobian_weight": "--fold-weight",
           "jacobian_margin": "--fold-margin", "still_weight": "--still-weight"}


def _check_numbers(settings) -> None:
    """Every float option is a finite number (nan and inf would reach torch unchecked)."""
    for key, value in asdict(settings).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"{_OPTION.get(key, key.replace('_', '-'))} must be a finite number, got {value}")


def load_resumable(output, settings: TrainSettings) -> tuple[dict, list[str]]:
    """The checkpoint a ``--resume`` continues, checked against ``settings`` before any work.

    Returns the record and the options that changed (reported, allowed); an option that
    shapes the model or the data (size, channels, velocity, solver, paired) is refused.
    """
    record = checkpoint.load(output, "img2gif.model")
    state = record.get("training_state")
    if not isinstance(state, dict) or not isinstance(record.get("train"), dict):
        raise OptionError(f"{output}: holds no training state to resume from (a shipped model?)")
    try:
        saved = TrainSettings.from_dict(record["train"])
    except TypeError as exc:
        raise OptionError(f"{output}: its training settings are unreadable ({exc})") from None
    return record, settings.check_resume(saved, output)


def load_still_mask(path, size: int) -> torch.Tensor:
    """(size, size) weights in [0, 1] from a grayscale image: white = keep still, black = free."""
    from .imagefile import read_image

    gray = Image.fromarray(read_image(path)).convert("L").resize((size, size), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(gray, dtype=np.float32) / 255.0)


def build_model(settings: TrainSettings) -> WarpODE:
    """The warp a training run starts from: its backends told the images' channels and size."""
    record = warp_record(settings.velocity, settings.solver, settings.velocity_config, settings.solver_config)
    try:
        ode = WarpODE.from_record(record, channels=settings.channels, field_shape=(settings.size, settings.size))
    except IncompatibleBackends:
        raise
    except (TypeError, ValueError) as exc:  # a plugin refusing these settings is a user error
        raise OptionError(f"--velocity {settings.velocity} / --solver {settings.solver}: {exc}") from None
    refuse_pair_velocity(ode)
    return ode


def model_record(ode: WarpODE, settings: TrainSettings, step: int) -> dict:
    """The inference part of a checkpoint: enough to rebuild and run the model."""
    return {
        **ode.record(),
        "state_dict": {k: v.detach().cpu() for k, v in ode.velocity.state_dict().items()},
        "image_size": settings.size,
        "channels": settings.channels,
        "train": asdict(settings),
        "step": step,
    }


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group under torchrun."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def save_sample_sheet(path: Path, ode: WarpODE, x0: torch.Tensor, inputs=()) -> None:
    """Rows of x0 -> x_t for t in SAMPLE_TIMES (the last column is x^1), written at ``path``
    (never over a file that is not a sheet, nor over one of the run's ``inputs``)."""
    with torch.no_grad():
        phi = ode.fields(x0, list(SAMPLE_TIMES), x0.shape[-2:])
        cols = [x0] + [sample(x0, p) for p in phi]
    grid = torch.cat([torch.cat(list(c), dim=-1) for c in zip(*cols)], dim=-2)  # rows: examples
    arr = grid.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    sheets.save_sheet(path, arr[..., 0] if arr.shape[2] == 1 else arr, inputs)


def train_on_tensors(x0_all: torch.Tensor, x1_all: torch.Tensor, settings: TrainSettings, output, *,
                     resume: bool = False, device="cpu", progress=None, log=None,
                     still_map: torch.Tensor | None = None) -> WarpODE:
    """Train on start images ``x0_all`` and end images ``x1_all`` ((N, C, S, S) in [0, 1]).

    Paired: x0_all[i] goes to x1_all[i]. Writes ``output`` (a checkpoint) as it goes and
    returns the trained WarpODE. ``progress(step, total, losses: dict)`` is called per step.
    ``still_map`` (S, S): where ``settings.still_weight`` applies (None: everywhere).
    """
    settings.check()
    rank, world = _distributed()
    device = torch.device(device)
    output = Path(os.fspath(output))
    samples_dir = sheets.samples_dir(output)
    torch.manual_seed(settings.seed)
    ode = build_model(settings).to(device)
    critic = Critic(settings.channels, 32, settings.size).to(device)
    opt_v = torch.optim.Adam(ode.velocity.parameters(), lr=settings.learning_rate, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=settings.critic_learning_rate, betas=(0.5, 0.9))
    data_rng = torch.Generator().manual_seed(settings.seed * 1000 + rank)  # each rank its own batches
    start = 0
    if rank == 0:
        from .writers import remove_stale_temp_files

        remove_stale_temp_files(output)  # left by a run that was killed while saving
    if resume:
        record, changed = load_resumable(output, settings)
        if changed and log is not None and rank == 0:
            log(f"resuming {output} with changed options: {'; '.join(changed)}")
        state = record["training_state"]
        ode.velocity.load_state_dict(record["state_dict"])
        critic.load_state_dict(state["critic"])
        opt_v.load_state_dict(state["opt_velocity"])
        opt_c.load_state_dict(state["opt_critic"])
        if len(state["data_rng"]) != world:
            raise OptionError(f"{output}: saved by {len(state['data_rng'])} process(es); resume it with as many, not {world}")
        data_rng.set_state(state["data_rng"][rank])
        torch.set_rng_state(state["torch_rng"])
        start = int(record["step"])
    velocity = ode.velocity
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        velocity = DDP(ode.velocity)
        critic = DDP(critic)
    train_ode = WarpODE(velocity, ode.solver) if world > 1 else ode
    loss_fn = registry.load("losses", settings.loss)
    jacobian = registry.load("penalties", "jacobian")
    outgrid = registry.load("penalties", "outgrid")
    displacement = registry.load("penalties", "displacement")
    if still_map is None and settings.still_mask:
        still_map = load_still_mask(settings.still_mask, settings.size)
    if still_map is not None:
        still_map = still_map.to(device)
    times = list(SAMPLE_TIMES)
    x0_all, x1_all = x0_all.to(device), x1_all.to(device)
    n0, n1 = x0_all.shape[0], x1_all.shape[0]
    fixed = x0_all[:8]
    field_size = (settings.size, settings.size)

    def batch(n, generator):
        # distributed sampling: every rank draws from its own stream, never the same order
        return torch.randint(0, n, (settings.batch_size,), generator=generator).to(device)

    def save(step):
        rng_states = [data_rng.get_state()]
        if world > 1:  # every rank's batch stream, so that a resume continues each exactly
            rng_states = [None] * world
            dist.all_gather_object(rng_states, data_rng.get_state())
        if rank != 0:
            return
        rec = model_record(ode, settings, step)
        rec["training_state"] = {
            "critic": {k: v.detach().cpu() for k, v in unwrap(critic).state_dict().items()},
            "opt_velocity": opt_v.state_dict(),
            "opt_critic": opt_c.state_dict(),
            "data_rng": rng_states,
            "torch_rng": torch.get_rng_state(),
        }
        checkpoint.save(output, rec, "img2gif.model")

    inputs = (settings.still_mask,)
    if rank == 0:
        sheets.check_sheet_paths(samples_dir, start, settings.steps, settings.sample_every, inputs)
    last_saved = start if resume else None  # None: this run has written no checkpoint yet
    for step in range(start + 1, settings.steps + 1):
        idx0 = batch(n0, data_rng)
        x0 = x0_all[idx0]
        losses = {}
        if not settings.paired:
            with torch.no_grad():
                x1_fake = sample(x0, train_ode.fields(x0, [1.0], field_size)[0])
            for _ in range(settings.critic_iters):
                x1 = x1_all[batch(n1, data_rng)]
                d_loss = critic(x1_fake).mean() - critic(x1).mean()
                gp = gradient_penalty(critic, x1, x1_fake)
                opt_c.zero_grad(set_to_none=True)
                (d_loss + settings.gp_weight * gp).backward()
                opt_c.step()
            losses["critic"] = float(d_loss.detach())
        phi = train_ode.fields(x0, times, field_size)
        x1_hat = sample(x0, phi[-1])
        if settings.paired:
            data = loss_fn(x1_hat, x1_all[idx0])
        else:
            data = -critic(x1_hat).mean()
        total = data + settings.jacobian_weight * jacobian(phi, margin=settings.jacobian_margin)
        total = total + settings.outgrid_weight * outgrid(phi)
        if settings.still_weight:
            still = displacement(phi, still_map)
            total = total + settings.still_weight * still
            losses["still"] = float(still.detach())
        if settings.cycle_weight:
            # the way back from x^1 alone must return to x0: what `reverse` relies on
            back = train_ode.fields(x1_hat, [-1.0], field_size)
            total = total + settings.cycle_weight * loss_fn(sample(x1_hat, back[0]), x0)
            total = total + settings.jacobian_weight * jacobian(back, margin=settings.jacobian_margin)
        if not torch.isfinite(total):
            kept = (f"the last good checkpoint ({output}, step {last_saved}) is kept" if last_saved is not None
                    else f"no checkpoint was written ({output} is as it was)")
            raise TrainingError(f"loss became {float(total.detach())} at step {step}; stopped: {kept}; try a lower --lr")
        opt_v.zero_grad(set_to_none=True)
        total.backward()
        opt_v.step()
        losses["warp"] = float(data.detach())
        losses["total"] = float(total.detach())
        if progress is not None and rank == 0:
            progress(step, settings.steps, losses)
        if rank == 0 and settings.sample_every and (step % settings.sample_every == 0 or step == settings.steps):
            save_sample_sheet(sheets.sheet_path(samples_dir, step), ode, fixed, inputs)
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            save(step)
            last_saved = step
    if start >= settings.steps and rank == 0 and log is not None:
        log(f"{output} is already at step {start} of {settings.steps}: nothing to do")
    if world > 1:
        dist.barrier()
    return ode.eval()


def shipped_copy(record: dict) -> dict:
    """A checkpoint without its training state: what a model file ships."""
    return {k: v for k, v in record.items() if k != "training_state"}


def train(data, output=None, settings: TrainSettings | None = None, *, start_dir: str = "start", end_dir: str = "end",
          name: str | None = None, resume: bool = False, strict: bool = False, epochs: float | None = None,
          device="auto", progress=None, log=None) -> Path:
    """Train on the image folders ``data/start_dir`` and ``data/end_dir``; returns the checkpoint.

    Everything that can be refused is refused before the data is read: the output, the
    user model ``name`` (stored with ``--model NAME`` in mind), the settings, the backends, and
    for ``resume`` the checkpoint's own settings. ``epochs`` sets the steps from the data's
    size. ``progress(step, total, losses)`` per step; ``log(text)`` for what is worth saying.
    """
    from .datasets import load_domains
    from .models import check_user_model_name, install_user_model
    from .device import resolve_device
    from .safefile import check_not_an_input, check_writable_file

    settings = settings or TrainSettings()
    log = log or (lambda text: None)
    output = Path(os.fspath(output or f"{name or 'model'}.pt"))
    if epochs is not None and not (epochs > 0 and math.isfinite(epochs)):
        raise OptionError(f"--epochs must be > 0, got {epochs}")
    if name is not None:
        check_user_model_name(name)  # a bad name or an unwritable model folder: now, not after training
    check_writable_file(output)
    if output.suffix != ".pt":
        raise OptionError(f"{output}: a checkpoint must end in .pt")
    if resume and not output.is_file():
        raise OptionError(f"{output}: no checkpoint to resume")
    samples = sheets.samples_dir(output)
    # inside an image folder, a checkpoint or sheet would be read as data by the next run
    image_folders = [Path(os.fspath(data)) / start_dir, Path(os.fspath(data)) / end_dir]
    check_not_an_input(output, image_folders)
    check_not_an_input(samples, image_folders, what="sample folder")
    if settings.sample_every and os.path.lexists(samples) and not samples.is_dir():
        raise OptionError(f"{samples}: sample sheets go in this folder, but it is a file (or --sample-every 0)")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    settings.check()
    still_map = load_still_mask(settings.still_mask, settings.size) if settings.still_mask else None
    build_model(settings)  # backends that do not fit together fail here, before any data is read
    start = 0
    if resume:  # a changed --size or --velocity: refused before the data is read
        start = int(load_resumable(output, settings)[0]["step"])
    if epochs is None:  # with --epochs the last step is known only from the data: checked again there
        sheets.check_sheet_paths(samples, start, settings.steps, settings.sample_every, (settings.still_mask,))
    x0, x1 = load_domains(data, start_dir, end_dir, size=settings.size, channels=settings.channels,
                          paired=settings.paired, strict=strict)
    if epochs is not None:
        settings.steps = max(1, math.ceil(epochs * x0.shape[0] / settings.batch_size))
    settings.check()
    log(f"training on {x0.shape[0]} start and {x1.shape[0]} end images, {settings.steps} steps, device {dev}")
    train_on_tensors(x0, x1, settings, output, resume=resume, device=dev, progress=progress, log=log, still_map=still_map)
    log(f"saved {output}")
    if name is not None:
        try:
            log(f"stored as model {name!r}: {install_user_model(output, name)}")
        except Img2GifError as exc:
            raise type(exc)(f"{exc} (the trained model is kept in {output})") from None
    return output
