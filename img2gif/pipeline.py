"""The animate pipeline (what to do): files -> images -> fitted warp -> frames -> writer.

How the warp is integrated is the solver's business (``img2gif.solvers``); this module
only decides which frames are wanted and where they go.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace

import numpy as np

from . import timing
from .errors import InputError, OptionError
from .fit import FitSettings
from .imagefile import (Img2GifWarning, cap_size, check_fit, composite, env_limit, match_size, parse_colour,
                        read_image, with_alpha)
from .device import resolve_device
from .pair import Pair, fit_pair
from .region import Region, as_region
from .request import MODEL_ALONE, PATH, VIDEO, FitOptions, Request
from .render import MODES
from .encoding import Encoding, plays_of
from .writers import (capabilities, check_frame_size, check_not_an_input, check_output, check_rate, frames_encoded,
                      label, loadable, mp4_size, write_animation)

MAX_SIZE = 8192
# Frames x pixels of one animation. Every writer streams (memory stays flat), so this bounds
# the work and the output: a GIF can hold a byte per frame pixel, 2 GB at the limit.
DEFAULT_MAX_OUTPUT_PIXELS = 2_000_000_000   # 1080p x 960 frames


LARGE_OUTPUT_PIXELS = 100_000_000  # warn before a file that stores every pixel and may reach 100 MB


def max_output_pixels() -> int:
    """The frames x pixels limit: IMG2GIF_MAX_OUTPUT_PIXELS if set, else 2 billion."""
    return env_limit("IMG2GIF_MAX_OUTPUT_PIXELS", DEFAULT_MAX_OUTPUT_PIXELS, OptionError)


@dataclass
class AnimationResult:
    """What was written: the file on disk, read back (not what was asked for)."""

    path: str
    format: str
    frames_rendered: int  # frames of the animation (each rendered once, or again for pingpong's way back)
    frames_written: int   # frames in the file: GIF/WebP/APNG merge identical neighbours
    fps: float            # the rate frames were rendered for
    duration: float       # seconds one play of the file lasts (holds and pingpong included)
    size: tuple[int, int]
    frames_played: int = 0  # frames one play shows: pingpong's way back included
    cuts: int = 0           # video: scene cuts found (never warped across)
    blended: int = 0        # video: gaps the warp could not explain, crossfaded
    audio: bool = False     # the file holds an audio stream (read back from it)
    audio_left_out: bool = False  # video: the source has sound the MP4 was written without
    held: int = 0           # video: source frames dropped as repeats of a held drawing (on twos)
    seam: str = ""          # video, --loop closed: the last frame's return to the first: warped, cut or crossfaded
    repeats_first: int = 0  # video, --loop closed: frames dropped from the end, the first frame again


def read_pair(path_a, path_b, size: int | None = None, fit: str = "crop",
              keep_alpha: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read A and B; B is made A's size if they differ (``fit``: crop, stretch or pad, see
    ``imagefile.match_size``); both capped to ``size``. ``keep_alpha``: where either has
    transparency both are (H, W, 4) straight-alpha RGBA (else flattened onto white)."""
    check_fit(fit)
    a, b = same_channels([read_image(path_a, keep_alpha), read_image(path_b, keep_alpha)])
    b = match_size(a, b, fit=fit)
    return cap_size(a, size), cap_size(b, size)


def same_channels(images: list[np.ndarray]) -> list[np.ndarray]:
    """The images as they are when all are RGB or all RGBA; else all RGBA (RGB ones opaque)."""
    if all(image.shape[2] == images[0].shape[2] for image in images):
        return images
    return [with_alpha(image) for image in images]


def check_size(size):
    if size is not None and not 2 <= size <= MAX_SIZE:
        raise OptionError(f"--size must be between 2 and {MAX_SIZE}, got {size}")


@dataclass(frozen=True)
class OutputPlan:
    """Where and how the frames go: checked before any work is done."""

    output: str
    format: str
    frames: timing.FramePlan
    loop: str
    hold_start: float
    hold_end: float
    ease: str
    encoding: Encoding = Encoding()
    background: tuple | None = None  # (r, g, b): RGBA frames are composited onto it before writing

    def check_alpha(self, images, names) -> None:
        """Refuse, before any work, transparent images for a format without alpha (MP4)
        unless a --background was given to composite them onto."""
        if self.background is not None or capabilities(self.format).alpha:
            return
        for image, name in zip(images, names):
            if image.shape[2] == 4:
                raise InputError(f"{os.fspath(name)}: has transparency, which {label(self.format)} cannot hold; "
                                 "write .webp, .png (APNG), .gif or a folder/, or give --background COLOUR "
                                 "to composite onto")

    def check_memory(self, image: np.ndarray, source) -> None:
        """Refuse, before any work, frames the format cannot hold or memory cannot."""
        h, w = image.shape[:2]
        check_frame_size(self.output, self.format, w, h)
        caps = capabilities(self.format)
        if caps.stores_every_pixel and self.frames.count * w * h > LARGE_OUTPUT_PIXELS:
            warnings.warn(
                f"{self.output}: {self.frames.count} frames of {w}x{h} make a {caps.label} of up to "
                f"{self.frames.count * w * h / 1e6:,.0f} MB (a {caps.label} stores every frame's pixels); "
                ".mp4 or .webp is usually 10-50x smaller", Img2GifWarning, stacklevel=3)
        written = self.frames_encoded()
        total = written * h * w
        limit = max_output_pixels()
        if total > limit:
            what = f"{self.frames.count} frames" if written == self.frames.count else \
                f"{self.frames.count} frames ({written:,} written: holds and plays repeat them)"
            raise OptionError(
                f"{os.fspath(source)}: {what} of {w}x{h} are {total:,} pixels, over the "
                f"limit of {limit:,} (a bound on the work and the file); lower --frames, --size or --loop, "
                "or set IMG2GIF_MAX_OUTPUT_PIXELS"
            )

    def frames_encoded(self) -> int:
        """Frames the encoder is given (``writers.frames_encoded``)."""
        shown = timing.playback(self.frames.count, self.frames.fps, self.loop, self.hold_start, self.hold_end)
        return frames_encoded(self.format, shown, self.frames.fps, self.encoding.plays, self.frames.count)

    def times(self, direction: float = 1.0) -> list[float]:
        return timing.frame_times(self.frames.count, self.ease, direction)

    def _result(self, written, shown) -> AnimationResult:
        # a format that holds its N plays one after another (MP4): the result is per play, as for the others
        plays_in_file = capabilities(self.format).plays_in_file
        seconds = written.seconds / max(1, self.encoding.plays) if plays_in_file else written.seconds
        return AnimationResult(str(self.output), self.format, self.frames.count, written.frames, self.frames.fps,
                               seconds, written.size, len(shown), audio=written.audio)

    def rendered(self, renderable, mode, times, progress=None):
        """The frames of ``renderable`` (a ``render.Renderable``) at ``times`` in ``mode``, as the
        encoder will ask for them: a ``sequence.FrameFeed``. Straight-alpha RGBA frames are
        composited onto ``background`` where one is set; ``progress(stage, done, total)`` per frame.
        """
        from .sequence import FrameFeed

        render, shape = renderable.frame_renderer(mode), renderable.shape
        channels = shape[2] if len(shape) > 2 else 3
        if channels == 4 and self.background is not None:
            rgba_render, background = render, self.background
            render = lambda ts: (composite(frame, background) for frame in rgba_render(ts))  # noqa: E731
            channels = 3
        total = self.frames.count if capabilities(self.format).folder else \
            len(timing.playback(self.frames.count, self.frames.fps, self.loop, self.hold_start, self.hold_end))
        report = (lambda done: progress("rendering", min(done, total), total)) if progress is not None else None
        return FrameFeed(render, times, (shape[0], shape[1], channels), progress=report)

    def write(self, source, audio_from=None) -> AnimationResult:
        """Encode ``source`` (``rendered``'s FrameFeed, or a ``sequence.StreamedFeed`` of
        frames made in order) played as this plan says, and write it; the one way out.
        ``audio_from``: a file whose sound a format with audio gets."""
        shown = timing.playback(self.frames.count, self.frames.fps, self.loop, self.hold_start, self.hold_end)
        h, w = source.shape[:2]
        if capabilities(self.format).even_sides and mp4_size(w, h) != (w, h):
            warnings.warn(f"{self.output}: {label(self.format)} needs even sides: {w}x{h} padded to "
                          f"{'x'.join(map(str, mp4_size(w, h)))} (the last row/column repeated)", Img2GifWarning, stacklevel=3)
        written = write_animation(self.output, source, shown, fps=self.frames.fps, loop=self.loop,
                                  encoding=self.encoding, checked=True, audio_from=audio_from)
        return self._result(written, shown)

def plan_output(output, *, frames=None, fps=None, duration=None, loop="forever", hold_start=0.0, hold_end=0.0,
                ease="linear", size=None, quality=None, codec=None, dither=None, inputs=(), background=None,
                alpha_threshold=None) -> OutputPlan:
    """Refuse bad output options before any work; GIFs over 50 fps are resampled (with a warning).

    ``quality`` (1-100), ``codec`` (MP4: h264, h265), ``dither`` and ``alpha_threshold``
    (GIF): see ``img2gif.encoding``; None is the default. ``background``: a colour
    (``imagefile.parse_colour``) transparent frames are composited onto, for any format.
    ``inputs``: the files the run reads; an output that would overwrite one is refused.
    """
    fmt = check_output(output, inputs)
    timing.check_ease(ease)
    timing.check_playback(loop, hold_start, hold_end)
    check_size(size)
    encoding = replace(check_encoding(fmt, output, quality, codec, dither, alpha_threshold, background),
                       plays=plays_of(loop))
    colour = parse_colour(background) if background is not None else None
    frame_plan, note = timing.for_format(timing.plan(frames, fps, duration), capabilities(fmt))
    if note is not None:
        warnings.warn(note, Img2GifWarning, stacklevel=3)
    return OutputPlan(str(output), fmt, frame_plan, str(loop), hold_start, hold_end, ease, encoding, colour)


def check_encoding(fmt: str, output, quality=None, codec=None, dither=None, alpha_threshold=None,
                   background=None) -> Encoding:
    """The output's Encoding; options a format cannot use are refused (codec, dither,
    alpha_threshold) or warned about (quality for a lossless format)."""
    given = {"quality": quality, "codec": codec, "dither": dither, "alpha_threshold": alpha_threshold}
    encoding = Encoding(**{k: v for k, v in given.items() if v is not None}).check()
    caps = capabilities(fmt)
    for option, value in (("codec", codec), ("dither", dither), ("alpha_threshold", alpha_threshold)):
        if value is not None and option not in caps.options:
            takers = _formats_taking(option)
            keeps = " (which keeps every level of alpha)" if option == "alpha_threshold" and caps.alpha else ""
            raise OptionError(f"{os.fspath(output)}: --{option.replace('_', '-')} applies to {takers} only, "
                              f"not {label(fmt)}{keeps}")
    if alpha_threshold is not None and background is not None:
        raise OptionError("--alpha-threshold and --background exclude each other: the background leaves nothing transparent")
    if codec == "h265":
        from . import ffmpeg

        if not ffmpeg.has_encoder("libx265"):
            raise OptionError("--codec h265 needs an ffmpeg with libx265, which this one lacks; use h264")
    if quality is not None and caps.lossless:
        what = f"{label(fmt)} {'are' if caps.folder else 'is'}"
        warnings.warn(f"{os.fspath(output)}: {what} lossless: --quality has no effect", Img2GifWarning, stacklevel=4)
    return encoding


def _formats_taking(option: str) -> str:
    """'MP4', 'GIF', ...: the formats whose writers take an encoding option."""
    names = [label(name) for name, caps in loadable().items() if option in caps.options]
    return " and ".join(names) or "no format"


def animate(a=None, b=None, output="animation.gif", *, pair: Pair | None = None, model=None, prior=None,
            frames: int | None = None, fps: float | None = None, duration: float | None = None, mode: str = "blend",
            loop: str = "forever", hold_start: float = 0.0, hold_end: float = 0.0, ease: str = "linear",
            size: int | None = None, quality: int | None = None, codec: str | None = None, dither: str | None = None,
            fit: str | None = None, times=None, background=None, alpha_threshold: int | None = None, crop=None,
            seed: int | None = None, device: str = "auto", settings: FitSettings | None = None, progress=None,
            job_progress=None, gap_batch: int = 1) -> AnimationResult:
    """Animate A into B and write ``output`` (.gif, .mp4, .webp, .png, or a directory/).

    ``a`` may be a list of three or more images: one continuous path through all of them
    (``times``: when each is reached, in [0, 1], default evenly spaced; ``loop="closed"``
    returns to the first; see ``img2gif.path``).
    Give image paths ``a`` and ``b`` (the warp is fitted), a fitted ``pair`` (a Pair or the
    path of a pair file), or ``a`` and a trained ``model`` (a LearnedModel, a name or a path:
    A alone is animated; with ``b`` too, the model's warp starts the pair fit). ``prior``: a
    pair prior (``img2gif.prior.PairPrior`` or its .pt path): its Phi_1 for (A, B) starts the fit.
    ``frames``/``fps``/``duration``: any two fix the third (defaults 30 fps, 2 s).
    ``loop``: forever, once, pingpong or a number of plays; ``quality`` 1-100, ``codec``
    (MP4: h264, h265) and ``dither`` (GIF) as in ``img2gif.encoding``. ``fit``: how B of
    another size is made A's (crop, the default, stretch, pad; ``imagefile.match_size``).
    Transparency is kept (fitted and rendered premultiplied) for GIF, WebP, APNG and PNG
    frames; ``background`` (a colour: white, #rrggbb) composites the frames onto it, which
    MP4 needs for transparent images (refused otherwise). ``alpha_threshold`` (GIF, 1-255,
    default 128): pixels with alpha below it are transparent. ``crop``: with a ``model`` and A
    alone, the box (x, y, width, height, or "X,Y,W,H", pixels of A) the model warps, framed
    like its training crops (a face in a portrait); the rest of A stays as it is.
    ``settings``: the fit's FitSettings, or ``seed`` alone (not both, unless they agree).
    ``gap_batch``: a keyframe path's gaps fitted at once (``schedule.WarmFits.fit_all``).
    ``progress(step, total, loss)`` is called while fitting, ``job_progress("rendering",
    done, total)`` per frame while frames are rendered and encoded (the two interleave).
    """
    if isinstance(a, (list, tuple)):
        if b is not None:
            raise OptionError("give the images as one list, or as a and b, not both")
        inputs = tuple(a)
    else:
        inputs = tuple(x for x in (a, b) if x is not None)
    request = Request(inputs=inputs, output=output, pair=pair, model=model, prior=prior, crop=crop,
                      times=None if times is None else tuple(times), frames=frames, fps=fps, duration=duration,
                      mode=mode, loop=str(loop), hold_start=hold_start, hold_end=hold_end, ease=ease, size=size,
                      quality=quality, codec=codec, dither=dither, background=background,
                      alpha_threshold=alpha_threshold, fit=fit, fit_options=FitOptions(seed=seed), settings=settings,
                      device=device, gap_batch=gap_batch)
    return run(request, progress=progress, job_progress=job_progress)


def upconvert(source, output="upconverted.mp4", *, fps=None, multiply=None, playback_fps=None, source_fps=None,
              loop="forever", mode="blend", size=None, quality=None, codec=None, dither=None, background=None,
              alpha_threshold=None, seed: int | None = None, device="auto", settings: FitSettings | None = None,
              job_progress=None, keep_held: bool = False, gap_batch: int = 1) -> AnimationResult:
    """Raise the frame rate of ``source`` (a video file or a folder of numbered frames).

    ``fps`` (the new rate) or ``multiply`` (that many frames per source frame); output frame j
    is at j / fps from the first source frame, so at a whole multiple every source frame is an
    output frame. ``playback_fps`` plays the result at another rate (slow motion); ``source_fps``
    is a folder's rate (a file's own rate otherwise). An MP4 at an unchanged duration gets the
    source's first audio stream where the MP4 can hold it, at its offset from the first frame.
    ``job_progress("fitting and rendering", gaps done, gaps)`` as it goes.
    A folder whose first frame has transparency keeps it, as ``animate`` does (``background``,
    ``alpha_threshold``).

    ``loop="closed"``: the last frame returns to the first like any other gap, so the result
    plays round without a jump (N source frames x ``multiply``). Footage on twos or threes is
    timed by its distinct drawings (``gaps.plan_keyframes``) unless ``keep_held``. ``gap_batch``:
    gaps fitted at once (``schedule.WarmFits.fit_all``), each from the motion before the batch.
    """
    request = Request(inputs=(source,), output=output, video=True, fps=fps, multiply=multiply,
                      playback_fps=playback_fps, source_fps=source_fps, loop=str(loop), mode=mode, size=size,
                      quality=quality, codec=codec, dither=dither, background=background,
                      alpha_threshold=alpha_threshold, fit_options=FitOptions(seed=seed), settings=settings,
                      device=device, keep_held=keep_held, gap_batch=gap_batch)
    return run(request, job_progress=job_progress)


def run(request: Request, progress=None, job_progress=None) -> AnimationResult:
    """Do what ``request`` asks (checked here, once, before any work) and write its output.
    ``progress(step, total, loss)`` while a pair is fitted; ``job_progress(stage, done, total)``
    while frames are rendered and encoded (or gaps of a video fitted and rendered)."""
    request = request.check()
    kind = request.kind
    if kind == VIDEO:
        return _upconvert(request, job_progress)
    if kind == PATH:
        return _animate_path(request, progress, job_progress)
    return _animate(request, progress, job_progress)


def _plan(request: Request, inputs) -> "OutputPlan":
    r = request
    return plan_output(r.output, frames=r.frames, fps=r.fps, duration=r.duration, loop=r.loop, hold_start=r.hold_start,
                       hold_end=r.hold_end, ease=r.ease, size=r.size, quality=r.quality, codec=r.codec,
                       dither=r.dither, inputs=inputs, background=r.background, alpha_threshold=r.alpha_threshold)


def _animate(request: Request, progress, job_progress) -> AnimationResult:
    """Two images fitted (or started from a model or a prior), a saved pair, or A alone with a model."""
    r = request
    region = as_region(r.crop)
    a, b = (list(r.inputs) + [None, None])[:2]
    pair = r.pair
    pair_path = None if pair is None or isinstance(pair, Pair) else pair
    model_path = _model_path(r.model)
    prior = r.prior
    prior_path = prior if isinstance(prior, (str, os.PathLike)) else None
    inputs = [p for p in (a, b, pair_path, model_path, prior_path) if p is not None and not isinstance(p, np.ndarray)]
    plan = _plan(r, inputs)
    dev = resolve_device(r.device)
    if prior_path is not None:
        from .prior import PairPrior

        prior = PairPrior.load(prior_path, device=dev)  # a bad file is refused before any work
    if pair_path is not None:
        pair = Pair.load(pair_path)
    if pair is not None and r.fit_options.refine is not None:  # how it is rendered, not how it was fitted
        pair = pair.with_refine(r.fit_options.refine)
    model = _as_model(r.model if model_path is None else model_path, dev)
    if r.kind == MODEL_ALONE:
        # a model takes the channels it was trained on: a transparent A is flattened (onto
        # --background where given, else white, with a warning)
        image, region = _read_for_model(a, r.size, region, plan.background)
        plan.check_memory(image, a)
        # one image: nothing to blend with, so a mode that needs B renders A warped alone
        times = plan.times()
        return plan.write(plan.rendered(model.on(image, times, region), _single_image_mode(r.mode), times, job_progress))
    if pair is None:
        # a model's start field is made for RGB images: with --model, A and B are flattened
        img_a, img_b = read_pair(a, b, r.size, r.fit or "crop", keep_alpha=model is None)
        plan.check_alpha([img_a, img_b], [a, b])
        plan.check_memory(img_a, a)
        start = model.fields(img_a, [1.0])[0] if model is not None else None
        pair = fit_pair(img_a, img_b, r.fit_settings(), device=dev, progress=progress, initial_field=start, prior=prior)
    else:
        pair = pair.to(dev)
        if r.size is not None and max(pair.a.shape[:2]) > r.size:
            pair = Pair(cap_size(pair.a, r.size), cap_size(pair.b, r.size), pair.ode, pair.settings, dev, still=pair.still)
        plan.check_alpha([pair.a], [pair_path or "the fitted pair"])
        plan.check_memory(pair.a, pair_path or "the fitted pair")
    return plan.write(plan.rendered(pair, r.mode, plan.times(), job_progress))


def _animate_path(request: Request, progress, job_progress) -> AnimationResult:
    """Three or more keyframes: fit every gap, bend them through their neighbours, write."""
    from .path import fit_path

    r = request
    images = list(r.inputs)
    closed = r.loop == "closed"
    times = timing.keyframe_times(None if r.times is None else list(r.times), len(images), closed)
    inputs = [p for p in images if not isinstance(p, np.ndarray)]
    plan = _plan(r, inputs)
    dev = resolve_device(r.device)
    names = [os.fspath(p) if not isinstance(p, np.ndarray) else f"image {k}" for k, p in enumerate(images, start=1)]
    first, *others = same_channels([p if isinstance(p, np.ndarray) else read_image(p, keep_alpha=True) for p in images])
    keyframes = [first] + [match_size(first, image, b_name=name, fit=r.fit or "crop")
                           for image, name in zip(others, names[1:])]
    keyframes = [cap_size(k, r.size) for k in keyframes]
    plan.check_alpha(keyframes, names)
    plan.check_memory(keyframes[0], names[0] if not isinstance(images[0], np.ndarray) else "the first image")
    path = fit_path(keyframes, times, closed, r.fit_settings(), device=dev, progress=progress, gap_batch=r.gap_batch)
    frame_times = timing.frame_times(plan.frames.count, plan.ease, closed=closed)
    return plan.write(plan.rendered(path, r.mode, frame_times, job_progress))


def _read_flat(path, background) -> np.ndarray:
    """(H, W, 3): an image flattened onto ``background`` (r, g, b), or as read_image does
    (onto white, with a warning) where none is given."""
    if background is None:
        return read_image(path)
    return composite(read_image(path, keep_alpha=True), background)


def _upconvert(request: Request, job_progress) -> AnimationResult:
    """A video or frames folder, its rate raised (see ``upconvert``)."""
    from .sequence import StreamedFeed
    from .clip import open_source, target_rate
    from .gaps import plan_keyframes
    from .video import Report, upconvert_frames

    r = request
    source, output = r.inputs[0], r.output
    closed = r.loop == "closed"
    check_size(r.size)
    # an output inside the frames folder would be read as a frame by the next run: refused
    # before the folder is even read
    check_not_an_input(output, [source])
    src = open_source(source, r.source_fps)
    if closed and src.count < 3:
        raise InputError(f"{src.path}: holds {src.count} frames; --loop closed needs 3 or more "
                         "(with two, the way back is the way there)")
    out_fps, count = target_rate(src, r.fps, r.multiply, closed)
    if r.playback_fps is not None and not (timing.MIN_FPS <= r.playback_fps <= timing.MAX_FPS):
        raise OptionError(f"--playback-fps must be between {timing.MIN_FPS:g} and {timing.MAX_FPS:g}, got {r.playback_fps}")
    if out_fps < timing.MIN_FPS:  # a slow source (a crafted rate, or --multiply of one)
        raise OptionError(f"{os.fspath(source)}: the output rate would be {out_fps:g} fps, under the minimum of "
                          f"{timing.MIN_FPS:g}; give a higher --fps")
    rate = float(r.playback_fps or out_fps)
    check_rate(output, rate)
    fmt = check_output(output, [src.path, *src.files])
    timing.check_playback(r.loop)
    encoding = replace(check_encoding(fmt, output, r.quality, r.codec, r.dither, r.alpha_threshold, r.background),
                       plays=plays_of(r.loop))
    colour = parse_colour(r.background) if r.background is not None else None
    caps = capabilities(fmt)
    if caps.plays_in_file and encoding.plays > 1:
        # an MP4 holds N plays one after another, and a video is up-converted once, as it goes
        raise OptionError(f"{os.fspath(output)}: --loop {r.loop} would repeat an up-converted video inside the "
                          f"{label(fmt)}; write it once (players loop it) or choose GIF/WebP/APNG, which store a play count")
    frame_plan = timing.FramePlan(count, rate)
    if timing.for_format(frame_plan, caps)[1] is not None:
        raise OptionError(f"{os.fspath(output)}: a {label(fmt)} plays at most {caps.max_fps:g} fps, this would play at "
                          f"{rate:g}; give --playback-fps {caps.max_fps:g} or less, or write .mp4/.webp")
    resized = src.capped(r.size)
    w, h = resized.frame_size
    shape = (h, w, 4 if src.alpha else 3)
    plan = OutputPlan(str(output), fmt, frame_plan, str(r.loop), 0.0, 0.0, "linear", encoding, colour)
    plan.check_alpha([np.zeros(shape, np.uint8)], [src.path])
    plan.check_memory(np.zeros(shape, np.uint8), src.path)
    dev = resolve_device(r.device)
    report = Report()
    # read once before anything is written: an all-still clip or too few drawings is refused here
    keyframes = plan_keyframes(resized, closed, holds=not r.keep_held)
    if closed:  # fewer where the clip's last frames repeat its first (the loop returns there)
        count = keyframes.output_count(resized, out_fps)
        plan = replace(plan, frames=timing.FramePlan(count, rate))
    progress = (lambda done, total: job_progress("fitting and rendering", done, total)) if job_progress else None
    stream = upconvert_frames(resized, out_fps, count, r.fit_settings(), dev, r.mode, report, progress, keyframes,
                              gap_batch=r.gap_batch)
    positions = src.positions(out_fps, range(count))

    def sample(indices):  # the source frames nearest those output frames, for a GIF palette
        wanted = {min(src.count - 1, round(float(positions[j]))): j for j in indices}
        picked = {}
        for k, frame in enumerate(resized.frames()):
            if k in wanted:
                picked[wanted[k]] = frame
            if len(picked) == len(wanted):
                break
        return [picked.get(j, next(iter(picked.values()))) for j in indices]

    # the sound fits only a video of the source's own length and rate; whether the MP4 can
    # hold the stream (any container's: MKV, WebM, AVI ...) is asked of the muxer as it is copied
    audio = caps.audio and src.has_audio and r.playback_fps in (None, out_fps) and r.source_fps is None
    if src.alpha and colour is not None:  # flattened as they are made: the fit saw the alpha
        rgba_stream, rgba_sample = stream, sample
        stream = (composite(frame, colour) for frame in rgba_stream)
        sample = lambda indices: [composite(frame, colour) for frame in rgba_sample(indices)]  # noqa: E731
        shape = (h, w, 3)
    result = plan.write(StreamedFeed(stream, count, shape, sample), audio_from=src.path if audio else None)
    # what the file holds, not what was planned (a stream the MP4 cannot hold is left out)
    left_out = caps.audio and src.has_audio and not result.audio
    return replace(result, cuts=report.cuts, blended=report.blended, audio_left_out=left_out, held=report.held,
                   seam=report.seam, repeats_first=keyframes.repeats_first)




def reverse(image, output="reverse.gif", *, model, frames=None, fps=None, duration=None, loop="forever",
            hold_start=0.0, hold_end=0.0, ease="linear", size=None, quality=None, codec=None, dither=None, crop=None,
            device="auto", job_progress=None) -> AnimationResult:
    """From the last frame alone back to the start: integrate the model from t = 0 to t = -1.
    ``crop``: the box of the image the model warps, as in ``animate``."""
    region = as_region(crop)
    model_path = _model_path(model)
    inputs = [p for p in (image, model_path) if p is not None]
    plan = plan_output(output, frames=frames, fps=fps, duration=duration, loop=loop, hold_start=hold_start,
                       hold_end=hold_end, ease=ease, size=size, quality=quality, codec=codec, dither=dither,
                       inputs=inputs)
    model = _as_model(model if model_path is None else model_path, resolve_device(device))
    last, region = _read_for_model(image, size, region)
    plan.check_memory(last, image)
    times = plan.times(-1.0)
    return plan.write(plan.rendered(model.on(last, times, region), "warp-only", times, job_progress))


def _read_for_model(path, size, region, background=None):
    """The image a model animates, flat (a model takes the channels it was trained on) and
    capped to ``size``, with the ``region`` checked against the file and scaled with it."""
    original = _read_flat(path, background)
    height, width = original.shape[:2]
    if region is not None:
        region.check_inside(width, height, path)
    image = cap_size(original, size)
    if region is not None and image.shape[:2] != original.shape[:2]:
        region = region.scaled(image.shape[1] / width, image.shape[0] / height)
        region = Region(min(region.x, image.shape[1] - region.width), min(region.y, image.shape[0] - region.height),
                        region.width, region.height)  # rounding must not push the box out
    return image, region


def _single_image_mode(mode: str) -> str:
    """One image has nothing to blend with: a mode that needs B renders A warped alone."""
    return "warp-only" if MODES[mode].needs_b else mode


def _model_path(model):
    """The file behind a model name or path (a LearnedModel or None: None). Resolving a shipped
    name copies it into the cache, so this is done once, before any other work."""
    if model is None:
        return None
    from .learned import LearnedModel
    from .models import resolve

    if isinstance(model, LearnedModel):
        return None
    return resolve(str(model))


def _as_model(model, device):
    """A LearnedModel from a LearnedModel, a registry name or a path (None stays None)."""
    if model is None:
        return None
    from .learned import LearnedModel, load_model

    if isinstance(model, LearnedModel):
        return model
    return load_model(model, device)
