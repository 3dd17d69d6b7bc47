"""The command line: options -> API calls; errors -> one line on stderr and exit code 2."""
from __future__ import annotations

import os
import re
import signal
import sys
import time
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

# Only light modules here: `--help`, `--version`, usage errors and `inspect out.gif` answer
# without importing torch; each command imports what it needs when it runs.
from . import timing
from ._version import __version__
from .display import safe_text
from .errors import Img2GifError
from .safefile import check_not_an_input, check_writable_file, raise_keyboard_interrupt as _raise_interrupt


def _no_flag_metavars(params):
    """Flags (--help, --match/--no-match, ...) take no value: their --help shows no metavar
    (typer would print <bool> beside them)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(typer.core.TyperCommand):
    def get_params(self, ctx):
        return _no_flag_metavars(super().get_params(ctx))


class _Group(typer.core.TyperGroup):
    def get_params(self, ctx):
        return _no_flag_metavars(super().get_params(ctx))


app = typer.Typer(
    name="img2gif",
    help="Two images in, a smooth continuous animation out (GIF, MP4, WebP, APNG), with a Warping Neural ODE.",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _width() -> int | None:
    # rich takes COLUMNS as given: COLUMNS=0 (or garbage) would print nothing at all
    value = os.environ.get("COLUMNS", "")
    return None if value.isdigit() and int(value) >= 20 else (80 if value else None)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich's default exits with status 1; a reader that went away (`| head`, a closed
        # stderr) does not undo work that is done: stop printing and carry on.
        self.quiet = True
        _silence(self.file)


# No markup or emoji codes: messages carry user file names, which must print verbatim.
err = _Console(stderr=True, highlight=False, markup=False, emoji=False, width=_width())
out = _Console(highlight=False, markup=False, emoji=False, width=_width())


class Mode(str, Enum):
    blend = "blend"
    warp_only = "warp-only"


class Fit(str, Enum):
    crop = "crop"
    stretch = "stretch"
    pad = "pad"


class Dither(str, Enum):
    auto = "auto"
    floyd_steinberg = "floyd-steinberg"
    bayer = "bayer"
    none = "none"


class Codec(str, Enum):
    h264 = "h264"
    h265 = "h265"


class Ease(str, Enum):
    linear = "linear"
    smooth = "smooth"


class AutoOff(str, Enum):
    """The choices of --keep-still and --refine."""
    auto = "auto"
    off = "off"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _say(label: str, style: str, message) -> None:
    # Text, not markup: file names may hold "[red]" or ":smile:", printed verbatim. One line
    # always: messages quoted from torch or Pillow can hold newlines. Terminal escapes from
    # crafted file names or files are shown, never sent (safe_text).
    text = safe_text(re.sub(r"\s*[\r\n]+\s*", " ", str(message)).strip())
    _print(err, Text.assemble((label, style), " ", text) if label else Text(text))


def _note(message) -> None:
    """An informational line on stderr ("wrote ...", "saved ..."), made safe like errors."""
    _say("", "", message)


def _print(console, renderable) -> None:
    try:
        console.print(renderable, soft_wrap=True)
    except BrokenPipeError:
        _silence(console.file)  # nobody reads the messages any more: the work still counts
    except OSError:
        if console is out:
            raise
        _silence(console.file)


class _Stdout:
    """What inspect prints to: stdout, whose write failures are one error line too."""

    def print(self, *objects, **kwargs) -> None:
        try:
            out.print(*objects, **kwargs)
        except BrokenPipeError:  # `img2gif inspect x | head -1`: the reader has all it wants
            _silence(sys.stdout)
            raise typer.Exit(0) from None
        except OSError as exc:
            from .errors import OutputError

            _silence(sys.stdout)
            raise OutputError(f"standard output: cannot write ({exc.strerror or exc})") from None


def _silence(stream) -> None:
    """Point a stream nobody can read any more at /dev/null (no second error at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _say("warning:", "yellow", message)


# Ended like Ctrl-C: temp files removed, the previous output intact. SIGHUP is the terminal
# closing; left at its default it would kill the run with its temp files in place.
_STOP_SIGNALS = ("SIGTERM", "SIGHUP")
_REPORTED: list[int] = []  # an interruption a command has already said something about


@contextmanager
def _user_errors(interrupted="interrupted; no output written"):
    """Img2GifError -> 'error: ...' and exit 2; Ctrl-C/SIGTERM/SIGHUP -> exit 130, nothing partial.

    ``interrupted``: the message for an interruption, or a callable that returns it.
    """
    previous = {}
    if os.name == "posix":
        for name in _STOP_SIGNALS:
            number = getattr(signal, name)
            if signal.getsignal(number) is not signal.SIG_IGN:  # nohup's choice is respected
                previous[number] = signal.signal(number, _raise_interrupt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.simplefilter("ignore", ResourceWarning)  # for developers, not users
            warnings.showwarning = _show_warning
            yield
    except Img2GifError as exc:
        _say("error:", "red", exc)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        _note(interrupted() if callable(interrupted) else interrupted)
        _REPORTED.append(130)
        raise typer.Exit(130) from None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def _progress(label: str, enabled: bool, describe):
    """A rich progress bar on stderr; yields update(step, total, value), value shown by describe."""
    if not enabled:
        yield None
        return
    columns = [TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None, status="")

        def update(step, total, value):
            bar.update(task, completed=step, total=total, status=describe(value))

        yield update


class _Job:
    """One bar for a whole animate/reverse run: fitting, then rendering, then encoding."""

    def __init__(self, bar, task):
        self.bar, self.task = bar, task

    def fit(self, step, total, loss):
        self.bar.update(self.task, description="fitting", completed=step, total=total, status=f"loss {loss:.4f}")

    def stage(self, stage, done, total):
        self.bar.update(self.task, description=stage, completed=done or 0, total=total,
                        status={"rendering": "frames", "fitting and rendering": "gaps"}.get(stage, ""))


@contextmanager
def _job_progress(enabled: bool):
    if not enabled:
        yield None
        return
    columns = [TextColumn("{task.description:<9}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        yield _Job(bar, bar.add_task("starting", total=None, status=""))


def _fit_progress(enabled: bool = True):
    return _progress("fitting", enabled, lambda loss: f"loss {loss:.4f}")


LOG_EVERY_S = 10.0  # a training run's plain progress line, where stderr is a log file, not a terminal


@contextmanager
def _train_progress(enabled: bool = True):
    """A bar on a terminal; elsewhere (a log file, a device run) a plain line every
    LOG_EVERY_S seconds and at the last step, so that a long run's log shows where it is."""
    describe = lambda losses: "  ".join(f"{k} {v:.4f}" for k, v in losses.items())  # noqa: E731
    if not enabled or err.is_terminal:
        with _progress("training", enabled, describe) as update:
            yield update
        return
    started = time.monotonic()
    last = [started]

    def update(step, total, losses):
        now = time.monotonic()
        if now - last[0] >= LOG_EVERY_S or step == total:
            last[0] = now
            _note(f"step {step}/{total}  {describe(losses)}  {now - started:.0f} s")

    yield update


def _step_counts(text: str) -> tuple:
    from .fit import FitSettings

    levels = len(FitSettings().steps)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != levels or not all(p.isdigit() for p in parts):
        raise Img2GifError(f"--warm-steps {text!r}: give {levels} whole numbers of steps, coarse to fine, e.g. 20,20,0")
    return tuple(int(p) for p in parts)


def _version(value: bool):
    if value:
        _print(out, f"img2gif {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, metavar="", help="Print the version and exit.")):
    """Two images in, a smooth continuous animation out."""


PriorOpt = typer.Option(None, "--prior", help="A pair prior (.pt from `img2gif train --prior`): its motion for A and B starts the fit (instead of the global shift search), for large motion. Two images only; needs a velocity that can start from a field (svf).")
KeepStillOpt = typer.Option(None, "--keep-still", help="Still overlays (subtitles, logos, HUDs, timestamps: pixels the same in A and B, with texture, while the scene behind them moves): auto finds them; the fit ignores them, so they do not hold the motion around them back, and every frame shows them unwarped and sharp (a pair with a caption fits about 3.5x longer; BENCHMARKS.md). off (default) warps every pixel, overlays too. Applies when fitting: a pair saved by fit-pair keeps its own setting.")
RefineOpt = typer.Option(None, "--refine", help="Motion at full resolution: auto (default) refines the fitted motion, which is found at --working-size, level by level towards the image's size with a local search (up to 640x360 for 720p, 960x540 for 1080p), for images larger than the working size. On 720p video it scored 0.35 dB higher (1 dB at every 2nd frame given) for 1.15-1.4x the time (BENCHMARKS.md, motion refined above the working size). off: the working size's motion, upsampled (the only way before). The fit is the same either way, so it also applies to --from (a pair saved before this option existed renders as off unless asked).")
MatchOpt = typer.Option(None, "--match/--no-match", show_default=False, help="Start each fit from block matching (a search per pixel over an image pyramid, around the global shift or the gap before's field), so that parts that move far on their own are found. On by default for svf; --no-match starts from one shift for the whole frame (the only start before; BENCHMARKS.md has both).")
EstimatorOpt = typer.Option(None, "--estimator", metavar="NAME", help="Motion estimator that proposes where each fit starts (see `img2gif inspect`: shift, blocks, or a plugin's), instead of the default: the shift search, then block matching. Needs a velocity that can start from a field (svf).")
VelocityOpt = typer.Option("svf", "--velocity", help="Velocity backend (see `img2gif inspect`): svf (fast, one pair) or unet.")
SolverOpt = typer.Option("scaling-squaring", "--solver", help="Solver backend: scaling-squaring (svf only), euler, midpoint, rk4, dopri5.")
LossOpt = typer.Option("charbonnier", "--loss", help="Data loss backend: charbonnier, l2, or a plugin's.")
WorkingSizeOpt = typer.Option(256, "--working-size", min=16, max=2048, help="Longer side the warp is fitted at; the field is upsampled for the full-size images.")
SeedOpt = typer.Option(0, "--seed", help="Random seed, 0 ... 2^63 - 1 (fits are deterministic on CPU for a given seed).")
DeviceOpt = typer.Option(Device.auto, "--device", help="auto = CUDA when available, else CPU.")
QuietOpt = typer.Option(False, "--quiet", "-q", metavar="", help="No progress bar.")
# a str, not a Path: Path drops the trailing "/" that asks for a frames directory
OutputOpt = typer.Option(None, "-o", "--output", help="Output: .gif, .mp4, .webp, .png (APNG), or a directory (ending in /) for numbered PNGs.")
FpsOpt = typer.Option(None, "--fps", help=f"Frames per second (default {timing.DEFAULT_FPS:g}). GIF plays at most {timing.GIF_MAX_FPS:g}: higher rates are resampled to {timing.GIF_MAX_FPS:g} over the same duration. For a video: the new frame rate (not below the source's).")
DurationOpt = typer.Option(None, "--duration", help=f"Seconds of the transition (default {timing.DEFAULT_DURATION:g}).")
FramesOpt = typer.Option(None, "--frames", help="Exactly this many frames (any two of --frames/--fps/--duration).")
def _loop_value(value: str) -> str:
    from .encoding import plays_of
    from .timing import LOOPS

    if value not in LOOPS:
        try:
            plays_of(value)
        except Img2GifError:
            raise typer.BadParameter(f"{value!r} is not forever, once, pingpong, closed or a number of plays (1 ... 65535)") from None
    return value


LoopOpt = typer.Option("forever", "--loop", callback=_loop_value, metavar="forever|once|pingpong|closed|N", help="forever, once, pingpong (there and back, forever), closed (3+ images, or a video or frames folder of 3+ frames: the last returns smoothly to the first, warped like any other gap, so the result plays round without a jump; a video's N frames give N x --multiply, less where its last frames repeat the first (the loop returns there); where last and first are a scene cut apart the seam stays a cut, and where the warp cannot explain it a crossfade, as for any other gap; the summary says which), or N: play N times (an MP4 then holds N plays).")
QualityOpt = typer.Option(None, "--quality", min=1, max=100, metavar="1-100", help="One knob per format (default 90): MP4 CRF 10 at 90, 0 at 100, 19 at 70, 28 at 50; WebP lossy quality, 100 = lossless; GIF below 90 keeps pixels that barely change (smaller, lossy) and below 50 uses fewer colours. APNG and PNG frames are lossless.")
FitOpt = typer.Option(None, "--fit", help="When B's size differs from A's (and keyframes' from the first): crop (default: B's middle at A's aspect ratio, then resized), stretch (resized to A's size, distorted if the aspect differs), or pad (resized to fit, black bars). What was done is said. Not for a video, --from or A alone with --model.")
DitherOpt = typer.Option(None, "--dither", help="GIF dithering where 255 colours are not enough: auto (default: floyd-steinberg below 1 million pixels a frame, bayer above, where error diffusion is slow), floyd-steinberg (measured sharper and smaller than ffmpeg's default), bayer (a fixed pattern: never shimmers; fast), none (smallest, but smooth gradients band). Never used where the palette holds every colour (a gray animation). A GIF with transparency is indexed by Pillow: none, or else floyd-steinberg.")
CropOpt = typer.Option(None, "--crop", metavar="X,Y,W,H", help="With --model: warp only this box of the image (pixels: its top-left corner, width and height), framed as the model's training crops are (smile: a square from the brows' top to below the chin, the face filling it; `img2gif inspect --models` names each model's card). The model sees the box alone; the box moves as the model moves a face crop, the warp fades out over a margin just outside it, and the rest of the photo is left exactly as it was. Without it the whole image is the model's input.")
BackgroundOpt = typer.Option(None, "--background", metavar="COLOUR", help="Composite transparent images onto this colour (a name such as white, #rrggbb or rgb(r,g,b)), for any format. Without it transparency is kept (fitted and rendered premultiplied) in GIF, WebP, APNG and PNG frames, and refused for MP4, which has no alpha.")
AlphaThresholdOpt = typer.Option(None, "--alpha-threshold", metavar="1-255", help="GIF with transparency: a pixel whose alpha is below this is transparent, the rest opaque (a GIF pixel is one or the other; default 128). Lower keeps more of soft edges and shadows. GIF only.")
CodecOpt = typer.Option(None, "--codec", help="MP4 video codec: h264 (default; plays everywhere) or h265 (compresses better; slower to encode, and not every browser plays it).")
HoldStartOpt = typer.Option(0.0, "--hold-start", help="Seconds to show the first frame before moving.")
HoldEndOpt = typer.Option(0.0, "--hold-end", help="Seconds to show the last frame.")
EaseOpt = typer.Option(Ease.linear, "--ease", help="Time remapping: linear, or smooth (eases in and out).")
SizeOpt = typer.Option(None, "--size", help="Cap the output's longer side (pixels).")


@app.command("fit-pair", cls=_Command)
def fit_pair_cmd(
    a: Path = typer.Argument(..., metavar="A", help="Start image A."),
    b: Path = typer.Argument(..., metavar="B", help="End image B (made A's size if it differs: see --fit)."),
    output: Path = typer.Option(Path("pair.pt"), "-o", "--output", help="Where to save the fitted pair (.pt)."),
    size: Optional[int] = typer.Option(None, "--size", help="Cap the images' longer side (pixels) before fitting."),
    fit: Optional[Fit] = FitOpt,
    prior: Optional[Path] = PriorOpt,
    match: Optional[bool] = MatchOpt,
    estimator: Optional[str] = EstimatorOpt,
    keep_still: Optional[AutoOff] = KeepStillOpt,
    refine: Optional[AutoOff] = RefineOpt,
    velocity: str = VelocityOpt,
    solver: str = SolverOpt,
    loss: str = LossOpt,
    working_size: int = WorkingSizeOpt,
    seed: int = SeedOpt,
    device: Device = DeviceOpt,
    quiet: bool = QuietOpt,
):
    """Fit the warp from A to B once and save it; render it many times with `animate --from`."""
    from . import pipeline
    from .pair import fit_pair

    with _user_errors():
        if output.suffix.lower() != ".pt":
            raise Img2GifError(f"{output}: a pair file must end in .pt")
        check_writable_file(output)
        check_not_an_input(output, [a, b] + ([prior] if prior is not None else []))
        from .request import FitOptions

        settings = FitOptions(velocity=velocity, solver=solver, loss=loss, working_size=working_size, seed=seed, match=match,
                              keep_still=keep_still and keep_still.value, estimator=estimator,
                              refine=refine and refine.value).settings()
        pipeline.check_size(size)
        img_a, img_b = pipeline.read_pair(a, b, size, (fit or Fit.crop).value, keep_alpha=True)
        with _fit_progress(not quiet) as progress:
            pair = fit_pair(img_a, img_b, settings, device=device.value, progress=progress, prior=prior)
        pair.save(output)
        still = pair.still
        kept = "" if still is None else f", still overlays kept unwarped on {100 * float(still.mean()):.1f} % of the frame"
        _note(f"saved {output} ({pair.size[0]}x{pair.size[1]}, velocity {velocity}, solver {solver}, {pair.folds()} folded pixels{kept})")


@app.command(cls=_Command)
def animate(
    images: Optional[List[Path]] = typer.Argument(None, metavar="IMAGE", help="A and B (the warp from A to B is fitted); A alone with --model; three or more keyframes: one continuous path through all of them (every image is made the first's size: see --fit); or one video (MP4, MOV, WebM, MKV, AVI, animated GIF, PNG or WebP) or folder of numbered frames: its frame rate raised to --fps or --multiply. Transparency (RGBA images, an animated PNG or WebP, a folder whose first frame has it) is kept: see --background."),
    output: Optional[str] = OutputOpt,
    from_pair: Optional[Path] = typer.Option(None, "--from", help="Render a pair saved by `fit-pair` instead of fitting A and B."),
    fps: Optional[float] = FpsOpt,
    duration: Optional[float] = DurationOpt,
    frames: Optional[int] = FramesOpt,
    mode: Mode = typer.Option(Mode.blend, "--mode", help="blend: A warped forward and B warped back, mixed (exact endpoints). warp-only: only A is warped (the paper's; no new colours)."),
    blend: bool = typer.Option(False, "--blend", metavar="", help="Same as --mode blend."),
    warp_only: bool = typer.Option(False, "--warp-only", metavar="", help="Same as --mode warp-only."),
    loop: str = LoopOpt,
    hold_start: float = HoldStartOpt,
    hold_end: float = HoldEndOpt,
    ease: Ease = EaseOpt,
    size: Optional[int] = SizeOpt,
    quality: Optional[int] = QualityOpt,
    codec: Optional[Codec] = CodecOpt,
    dither: Optional[Dither] = DitherOpt,
    background: Optional[str] = BackgroundOpt,
    alpha_threshold: Optional[int] = AlphaThresholdOpt,
    fit: Optional[Fit] = FitOpt,
    multiply: Optional[int] = typer.Option(None, "--multiply", help="Video: this many output frames per source frame (2 ... 64); instead of --fps."),
    playback_fps: Optional[float] = typer.Option(None, "--playback-fps", help="Video: play the result at this rate instead of --fps (slower: slow motion). The audio is kept only at an unchanged duration."),
    source_fps: Optional[float] = typer.Option(None, "--source-fps", help="Video: the frame rate of a folder of numbered frames (a video file's own rate is read from it)."),
    keep_held: bool = typer.Option(False, "--keep-held", metavar="", help="Video: time every source frame as its own moment. By default footage on twos or threes (most drawings shown for 2 or 3 identical frames) is timed by its distinct drawings, each at its first appearance, so the motion comes out even instead of still-then-jump; a run of 4 or more identical frames is a real pause and stays still. The summary says how many frames were held."),
    times: Optional[str] = typer.Option(None, "--times", metavar="T0,T1,...", help="Keyframe paths: when each image is reached, as fractions of the animation from 0 to 1 (default evenly spaced), e.g. 0,0.2,1 for three images. A keyframe is shown exactly when a frame falls on its time (for evenly spaced keyframes: --frames a multiple of the gaps, plus one)."),
    model: Optional[str] = typer.Option(None, "--model", help="A trained model (name from `img2gif inspect --models`, or a .pt path). With A alone: the model animates A. With A and B: the model's warp starts the pair fit."),
    crop: Optional[str] = CropOpt,
    prior: Optional[Path] = PriorOpt,
    match: Optional[bool] = MatchOpt,
    estimator: Optional[str] = EstimatorOpt,
    keep_still: Optional[AutoOff] = KeepStillOpt,
    refine: Optional[AutoOff] = RefineOpt,
    warm_steps: Optional[str] = typer.Option(None, "--warm-steps", metavar="C,M,F", help="Video and keyframe paths: optimiser steps per pyramid level, coarse to fine, of every gap after the first, whose fit starts from the gap before's field refined by block matching (default 20,20,0: a quarter to a third of the first gap's 80,50,30 in time, as good on real video, 0.11 dB lower on generated scenes; BENCHMARKS.md). 80,50,30 runs the full schedule for every gap; 0,20,0 is faster still."),
    gap_batch: int = typer.Option(1, "--gap-batch", metavar="N", help="Video and keyframe paths: fit N gaps at once, as one batch, each gap's fit as it would be alone (svf with a fixed-step solver, without --keep-still; otherwise in order, as with 1). Each gap of a batch starts from the motion before the batch instead of the gap just before it, and the batch's frames are held until it is fitted. On 2 CPU cores 8 took 1.6x less time for 0.05 dB less on real video (BENCHMARKS.md, gap batches); meant for a GPU, not yet measured on one"),
    velocity: str = VelocityOpt,
    solver: str = SolverOpt,
    loss: str = LossOpt,
    working_size: int = WorkingSizeOpt,
    seed: int = SeedOpt,
    device: Device = DeviceOpt,
    quiet: bool = QuietOpt,
):
    """Animate A into B: fit the warp (or load it with --from, or apply a --model to A alone);
    with three or more images, one continuous path through all of them."""
    from . import pipeline
    from .timing import parse_times

    with _user_errors():
        if blend and warp_only:
            raise Img2GifError("--blend and --warp-only exclude each other")
        from .request import FitOptions, Request
        from .clip import is_video_input

        images = list(images or [])
        video = len(images) == 1 and model is None and from_pair is None and is_video_input(images[0])
        request = Request(
            inputs=tuple(images), output=output, video=video, pair=from_pair, model=model, prior=prior, crop=crop,
            times=None if times is None else tuple(parse_times(times)), frames=frames, fps=fps, duration=duration,
            mode="warp-only" if warp_only else ("blend" if blend else mode.value), loop=loop, hold_start=hold_start,
            hold_end=hold_end, ease=ease.value, size=size, quality=quality, codec=codec and codec.value,
            dither=dither and dither.value, background=background, alpha_threshold=alpha_threshold,
            fit=fit and fit.value, multiply=multiply, playback_fps=playback_fps, source_fps=source_fps,
            keep_held=keep_held, gap_batch=gap_batch, device=device.value,
            fit_options=FitOptions(velocity=velocity, solver=solver, loss=loss, working_size=working_size, seed=seed,
                                   warm_steps=None if warm_steps is None else _step_counts(warm_steps),
                                   match=match, keep_still=keep_still and keep_still.value, estimator=estimator,
                                   refine=refine and refine.value))
        with _job_progress(not quiet) as job:
            result = pipeline.run(request, progress=job and job.fit, job_progress=job and job.stage)
        _note(_wrote(result) + (_video_summary(result) if video else ""))


def _video_summary(result) -> str:
    """What an up-converted video's summary adds: cuts, crossfades, held frames, the seam, sound."""
    extra = f"; {result.cuts} scene cut{'s' if result.cuts != 1 else ''} (not warped across)"
    extra += f", {result.blended} gap{'s' if result.blended != 1 else ''} crossfaded (a change the warp could not explain)"
    if result.held:
        extra += f", {result.held} held frame{'s' if result.held != 1 else ''} (on twos/threes: timed by the drawings)"
    if result.seam:
        extra += {"warped": ", loop closed (last frame warped back to the first)",
                  "cut": ", loop closed across a scene cut (the seam is a cut, not warped)",
                  "crossfaded": ", loop closed with a crossfade (the warp could not explain last to first)"}[result.seam]
    if result.repeats_first:  # inside the seam's brackets
        extra = extra[:-1] + (f"; the last {result.repeats_first} frame{'s' if result.repeats_first != 1 else ''} "
                              "showed the first again, so the loop returns there)")
    # what the file holds, read back from it
    return extra + (", audio copied" if result.audio else ", written without audio" if result.audio_left_out else "")


def _wrote(result) -> str:
    """The summary of the file on disk (read back from it, not what was asked for)."""
    frames = f"{result.frames_written} frame{'s' if result.frames_written != 1 else ''}"
    from .writers import capabilities

    caps = capabilities(result.format)
    if caps.folder:
        return f"wrote {result.path}: {frames} (PNG), {result.size[0]}x{result.size[1]}, for {result.fps:g} fps"
    merged = (f" ({result.frames_played} played; identical neighbours merged)"
              if caps.merges_repeats and result.frames_written < result.frames_played else "")
    return (f"wrote {result.path}: {frames}{merged}, {result.size[0]}x{result.size[1]}, "
            f"{result.fps:g} fps, {result.duration:.2f} s per play")


@app.command(cls=_Command)
def reverse(
    image: Path = typer.Argument(..., metavar="IMAGE", help="The last frame of an animation (for example a smiling face)."),
    model: str = typer.Option(..., "--model", help="The trained model (name or .pt path) whose animation leads to IMAGE."),
    output: Optional[str] = OutputOpt,
    fps: Optional[float] = FpsOpt,
    duration: Optional[float] = DurationOpt,
    frames: Optional[int] = FramesOpt,
    loop: str = LoopOpt,
    hold_start: float = HoldStartOpt,
    hold_end: float = HoldEndOpt,
    ease: Ease = EaseOpt,
    size: Optional[int] = SizeOpt,
    quality: Optional[int] = QualityOpt,
    codec: Optional[Codec] = CodecOpt,
    dither: Optional[Dither] = DitherOpt,
    crop: Optional[str] = CropOpt,
    device: Device = DeviceOpt,
    quiet: bool = QuietOpt,
):
    """Run a model's animation backwards from its last frame alone (t = 0 to t = -1)."""
    from . import pipeline

    with _user_errors():
        output = output or f"{image.stem}_reverse.gif"
        with _job_progress(not quiet) as job:
            result = pipeline.reverse(image, output, model=model, frames=frames, fps=fps, duration=duration, loop=loop,
                                      hold_start=hold_start, hold_end=hold_end, ease=ease.value, size=size,
                                      quality=quality, codec=codec and codec.value, dither=dither and dither.value,
                                      crop=crop, device=device.value,
                                      job_progress=job and job.stage)
        _note(_wrote(result))


@app.command(cls=_Command)
def train(
    data: Optional[Path] = typer.Option(None, "--data", help="Folder holding start/ and end/ image folders (--paired, --unpaired)."),
    unpaired: bool = typer.Option(False, "--unpaired", metavar="", help="Start and end images are unrelated: learn with a Wasserstein critic (WGAN-GP)."),
    paired: bool = typer.Option(False, "--paired", metavar="", help="start/X and end/X are the same subject: learn with a paired loss."),
    prior: bool = typer.Option(False, "--prior", metavar="", help="Train a pair motion prior, the file `animate --prior` and `fit-pair --prior` take, on generated layered scenes with known motion (scikit-image's sample photos: pip install 'img2gif[prior]'); no --data. Its defaults: --size 128, --steps 2000, --batch-size 8, --lr 0.0005; -o prior.pt."),
    start_dir: str = typer.Option("start", "--start-dir", help="Name of the start folder inside --data."),
    end_dir: str = typer.Option("end", "--end-dir", help="Name of the end folder inside --data."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Checkpoint file (default: NAME.pt or model.pt); sample sheets go to <stem>-samples/."),
    name: Optional[str] = typer.Option(None, "--name", help="Also store the trained model in the user model folder, so `--model NAME` finds it."),
    size: Optional[int] = typer.Option(None, "--size", show_default=False, help="Training image size (a power of two: 32, 64, 128 ...; default 32, --prior 128)."),
    channels: int = typer.Option(1, "--channels", help="1 grayscale, 3 RGB, 4 RGBA."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Optimiser steps (default 1000, --prior 2000)."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Passes over the start images (instead of --steps)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", show_default=False, help="Images per step (per process under torchrun; default 64, --prior 8)."),
    lr: Optional[float] = typer.Option(None, "--lr", show_default=False, help="Learning rate of the velocity network (default 0.001, --prior 0.0005)."),
    critic_iters: int = typer.Option(5, "--critic-iters", help="Critic updates per step (unpaired)."),
    loss: str = typer.Option("l2", "--loss", help="Paired data loss (a loss plugin)."),
    cycle: float = typer.Option(10.0, "--cycle", help="Weight of the cycle term: x^1 warped back by Phi_-1 (from x^1 alone) must return to x0. 0 turns it off."),
    fold_weight: float = typer.Option(100.0, "--fold-weight", help="Weight of the folding penalty: mean of relu(margin - det dPhi_t)."),
    fold_margin: float = typer.Option(0.1, "--fold-margin", help="Local area ratio (det dPhi_t) below which the folding penalty acts; higher keeps the warp further from folds and easier to reverse."),
    still_weight: float = typer.Option(0.0, "--still-weight", help="Weight of a penalty on displacement, the sum over t = 0.25, 0.5, 0.75, 1 of mean |Phi_t|^2 (pixels at --size): the warp moves only what it must. 0: off."),
    still_mask: Optional[Path] = typer.Option(None, "--still-mask", help="Grayscale image (any size, stretched to --size): where --still-weight applies, white = keep still, black = free to move."),
    velocity: str = typer.Option("unet", "--velocity", help="Velocity backend."),
    solver: str = typer.Option("compose", "--solver", help="Solver backend: compose (exact composition steps of --step-size, no folds) by default; euler, midpoint, rk4, dopri5 integrate the ODE form."),
    step_size: float = typer.Option(0.25, "--step-size", help="Step of fixed-step solvers."),
    sample_every: int = typer.Option(200, "--sample-every", help="Write a sample sheet every N steps (0: never)."),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every", help="Write the checkpoint every N steps."),
    resume: bool = typer.Option(False, "--resume", metavar="", help="Continue the run saved at -o exactly where it stopped."),
    strict: bool = typer.Option(False, "--strict", metavar="", help="Stop on an unreadable image instead of skipping it."),
    workers: int = typer.Option(0, "--workers", help="--prior: processes generating scenes beside the training loop (0: in the loop)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (0 ... 2^63 - 1)."),
    device: Device = DeviceOpt,
    quiet: bool = QuietOpt,
):
    """Learn a warp from a data set (the paper's Algorithm 1): paired, or unpaired with a critic;
    or, with --prior, the pair motion prior that starts a fit of two images with large motion."""
    from .training import TrainSettings, train as run_training

    output = output or Path(f"{name or ('prior' if prior else 'model')}.pt")
    before = _mtime(output)

    def interrupted() -> str:
        if _mtime(output) is not None and (resume or _mtime(output) != before):
            return f"interrupted; the last checkpoint is kept in {output} (continue with --resume)"
        return "interrupted before the first checkpoint; nothing was saved"

    with _user_errors(interrupted):
        if paired + unpaired + prior != 1:
            raise Img2GifError("choose one of --paired, --unpaired or --prior")
        if steps is not None and epochs is not None:
            raise Img2GifError("give --steps or --epochs, not both")
        if prior:
            _train_prior(data, output, size, steps, epochs, batch_size, lr, workers, checkpoint_every, resume, seed,
                         device, quiet)
            return
        if data is None:
            raise Img2GifError("--paired and --unpaired learn from a data set: give --data FOLDER")
        size, batch_size, lr = size or 32, batch_size or 64, 1e-3 if lr is None else lr
        settings = TrainSettings(paired=paired, size=size, channels=channels, batch_size=batch_size, learning_rate=lr,
                                 critic_iters=critic_iters, loss=loss, cycle_weight=cycle, velocity=velocity, solver=solver,
                                 jacobian_weight=fold_weight, jacobian_margin=fold_margin,
                                 still_weight=still_weight, still_mask=str(still_mask) if still_mask else None,
                                 solver_config={"step_size": step_size} if solver != "scaling-squaring" else {},
                                 sample_every=sample_every, checkpoint_every=checkpoint_every, seed=seed,
                                 steps=steps if steps is not None else 1000)  # --steps 0 is refused, not the default
        with _train_progress(not quiet) as progress:
            run_training(data, output, settings, start_dir=start_dir, end_dir=end_dir, name=name, resume=resume,
                         strict=strict, epochs=epochs, device=device.value, progress=progress, log=_note)


def _train_prior(data, output, size, steps, epochs, batch_size, lr, workers, checkpoint_every, resume, seed,
                 device, quiet) -> None:
    """``train --prior``: the options apply to img2gif.prior.PriorSettings."""
    from .device import resolve_device
    from .prior import PriorSettings, train_prior

    if data is not None or epochs is not None:
        raise Img2GifError("--prior trains on generated scenes: it takes no --data and no --epochs (give --steps)")
    d = PriorSettings()
    settings = PriorSettings(size=size or d.size, steps=d.steps if steps is None else steps,
                             batch_size=batch_size or d.batch_size, learning_rate=d.learning_rate if lr is None else lr,
                             workers=workers, checkpoint_every=checkpoint_every, seed=seed)
    with _train_progress(not quiet) as progress:
        train_prior(settings, output, device=resolve_device(device.value), resume=resume, progress=progress, log=_note)
    _note(f"saved {output} (step {settings.steps})")


def _mtime(path: Path):
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


@app.command(cls=_Command)
def inspect(
    path: Optional[Path] = typer.Argument(None, metavar="PATH", help="A pair/model .pt, or an animation (.gif, .mp4, .webp, .png). None: the installation."),
    models: bool = typer.Option(False, "--models", metavar="", help="List the models: shipped, cached and user-trained."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="With a pair .pt: draw the warp (deformed grid over A, flow as colour, Jacobian determinant with folds in red) to this PNG."),
    device: Device = DeviceOpt,
):
    """Show plugins, device and cache dir; or what a .pt holds; or an animation's frames and timing."""
    from . import inspection

    with _user_errors():
        if models:
            inspection.show_models(_Stdout())
        elif path is None:
            inspection.show_installation(_Stdout())
        elif path.suffix.lower() == ".pt":
            inspection.show_checkpoint(_Stdout(), path, device.value, plot=plot)
        else:
            if plot is not None:
                raise Img2GifError(f"{path}: --plot draws a fitted pair: give a pair .pt file (from fit-pair)")
            inspection.show_animation(_Stdout(), path)


def main():
    """The console entry point: usage errors (bad option values, unknown options) are one line too."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with the stream closed (2>&-): write to nowhere
            setattr(sys, name, open(os.devnull, "w"))
    for stream in (sys.stdout, sys.stderr):
        try:  # a non-ASCII file name on an ASCII-only terminal is shown escaped, not a crash
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
    if os.name == "posix":
        # From the first moment: SIGTERM/SIGHUP while torch is still being imported end the
        # run like Ctrl-C (exit 130), not with the default "killed" status
        for name in _STOP_SIGNALS:
            number = getattr(signal, name)
            if signal.getsignal(number) is not signal.SIG_IGN:
                signal.signal(number, _raise_interrupt)
    try:
        code = app(prog_name="img2gif", standalone_mode=False)
    except KeyboardInterrupt:
        _note("interrupted; no output written")
        _exit_interrupted()
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ == "Abort":  # click's form of a Ctrl-C outside a command's own handling
            _note("interrupted; no output written")
            _exit_interrupted()
        # Click's usage errors (duck-typed: typer vendors click in some versions, not in others)
        if not (hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)):
            raise
        message = exc.format_message()
        if message:  # empty when the help was shown instead (a command given no arguments)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            _say("error:", "red", message + hint)
        sys.exit(exc.exit_code)
    if code == 130 and not _REPORTED:  # typer turns a Ctrl-C outside a command's handling into 130
        _note("interrupted; no output written")
    for stream in (sys.stdout, sys.stderr):
        try:  # flushed here, so that a failure is not a second message from Python at exit
            stream.flush()
        except OSError:
            _silence(stream)
    if code == 130:
        _exit_interrupted()
    sys.exit(code if isinstance(code, int) else 0)


def _exit_interrupted() -> None:
    """Exit 130 now. Why not sys.exit: a KeyboardInterrupt that a signal raised inside an import
    (torch's, at start-up) can leave the interpreter to kill itself with SIGINT at the very end
    (exit -2 instead of 130; seen once in CI). Every writer has cleaned up by the time we are
    here (their handlers ran while the interrupt unwound); only the streams need flushing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


if __name__ == "__main__":
    main()
