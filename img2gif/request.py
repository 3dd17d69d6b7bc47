"""One request to animate: every option of ``img2gif animate`` and of the Python API's
``animate`` and ``upconvert``, checked once, before any file is read or written.

The CLI parses its flags into a ``Request``; the Python API builds the same object from its
keyword arguments. ``Request.check`` is the one place where an option is refused for not
applying (``--crop`` without ``--model``, ``--multiply`` without a video, a seed given twice
...); ``pipeline.run`` takes a checked request and does the work, refusing only what needs the
files themselves (a box outside the image, a clip too short to loop).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import OptionError
from .fit import FitSettings, starts_from_field
from .imagefile import check_fit
from .render import check_mode
from .schedule import check_gap_batch

# what is animated, decided by the inputs (see ``Request.kind``)
VIDEO, SAVED_PAIR, PATH, MODEL_ALONE, PAIR = "video", "saved pair", "keyframe path", "model alone", "pair"


@dataclass(frozen=True)
class FitOptions:
    """The fit's options as given on the command line (None: not given, the default applies)."""

    velocity: str = "svf"
    solver: str = "scaling-squaring"
    loss: str = "charbonnier"
    working_size: int = 256
    seed: int | None = None
    warm_steps: tuple | None = None   # steps per level of a warm gap, coarse to fine
    match: bool | None = None         # None: on where the velocity can start from a field
    keep_still: str | None = None     # None: off
    estimator: str | None = None
    refine: str | None = None         # None: FitSettings' default

    def settings(self) -> FitSettings:
        """The FitSettings these options make, checked."""
        can_match = starts_from_field(self.velocity)
        if self.estimator is not None and self.match is not None:
            raise OptionError("--estimator replaces the shift search and block matching: give it or "
                              "--match/--no-match, not both")
        if self.match and not can_match:
            raise OptionError(f"--match needs a velocity that can start from a field (svf), not {self.velocity!r}")
        settings = FitSettings(velocity=self.velocity, solver=self.solver, loss=self.loss,
                               working_size=self.working_size, seed=self.seed or 0,
                               match=can_match if self.match is None else self.match,
                               keep_still=self.keep_still or "off", estimator=self.estimator or "",
                               **({} if self.refine is None else {"refine": self.refine}))
        if self.warm_steps is not None:
            settings.warm_steps = tuple(self.warm_steps)
        settings.check()
        return settings


@dataclass(frozen=True)
class Request:
    """Everything ``animate``/``upconvert`` needs; see the module docstring.

    ``inputs``: image paths or (H, W, C) arrays: A and B, A alone (with ``model``), three or
    more keyframes, or one video or frames folder (``video``). ``pair``: a fitted Pair or a
    pair file (``--from``). ``fit_options`` are the fit's options as given; the Python API may
    give a whole ``settings`` instead (then ``fit_options`` carries only a seed, if any).
    """

    inputs: tuple = ()
    output: str | None = None
    video: bool = False
    pair: object = None
    model: object = None
    prior: object = None
    crop: object = None
    times: tuple | None = None
    frames: int | None = None
    fps: float | None = None
    duration: float | None = None
    mode: str = "blend"
    loop: str = "forever"
    hold_start: float = 0.0
    hold_end: float = 0.0
    ease: str = "linear"
    size: int | None = None
    quality: int | None = None
    codec: str | None = None
    dither: str | None = None
    background: object = None
    alpha_threshold: int | None = None
    fit: str | None = None            # None: crop, where it applies
    multiply: int | None = None
    playback_fps: float | None = None
    source_fps: float | None = None
    keep_held: bool = False
    gap_batch: int = 1                # video and keyframe paths: gaps fitted at once (schedule.WarmFits.fit_all)
    fit_options: FitOptions = field(default_factory=FitOptions)
    settings: FitSettings | None = None
    device: str = "auto"

    @property
    def kind(self) -> str:
        """VIDEO, SAVED_PAIR, PATH, MODEL_ALONE or PAIR (``check`` refuses the rest)."""
        if self.video:
            return VIDEO
        if self.pair is not None:
            return SAVED_PAIR
        if len(self.inputs) >= 3:
            return PATH
        if len(self.inputs) == 1 and self.model is not None:
            return MODEL_ALONE
        return PAIR

    def fit_settings(self) -> FitSettings:
        """The settings every fit of this request uses (one seed, given once)."""
        if self.settings is None:
            return self.fit_options.settings()
        seed = self.fit_options.seed
        if seed is not None and seed != self.settings.seed:
            raise OptionError(f"the seed is given twice, {seed} and settings.seed {self.settings.seed}: give it once")
        return self.settings

    def check(self) -> "Request":
        """Refuse every option that does not apply or is out of range (OptionError, one line,
        naming the option); returns the request with its output name filled in."""
        check_mode(self.mode)
        if self.fit is not None:
            check_fit(self.fit)
        kind = self.kind
        check_gap_batch(self.gap_batch)
        if self.gap_batch != 1 and kind not in (VIDEO, PATH):
            raise OptionError("--gap-batch applies to a video or three or more keyframes (a pair has one gap)")
        given = self.fit_options
        if self.crop is not None and kind != MODEL_ALONE:
            raise OptionError("--crop applies to A alone with --model: the box of A the model warps")
        if kind == VIDEO:
            self._check_video()
        else:
            self._check_images(kind, given)
        if self.settings is not None and any(value is not None for value in (
                given.warm_steps, given.match, given.keep_still, given.estimator, given.refine)):
            raise OptionError("give the fit's options in settings or one by one, not both")
        self.fit_settings()  # a bad fit option is refused now, not after the first frame is read
        return replace(self, output=self.output or self._default_output())

    def _check_video(self) -> None:
        unused = {"--duration": self.duration is not None, "--frames": self.frames is not None,
                  "--times": self.times is not None, "--hold-start": self.hold_start != 0.0,
                  "--hold-end": self.hold_end != 0.0, "--ease": self.ease != "linear", "--fit": self.fit is not None}
        for name, given in unused.items():
            if given:
                raise OptionError(f"{name} does not apply to a video: its length is the source's "
                                  "(--fps or --multiply set the rate, --playback-fps the speed)")
        if self.prior is not None:
            raise OptionError("--prior starts the fit of two images A and B; it does not apply to a video")
        if self.model is not None or self.pair is not None or len(self.inputs) != 1:
            raise OptionError("a video or folder of frames is up-converted alone (no --model or --from)")
        if self.loop == "pingpong":
            raise OptionError(f"--loop {self.loop} does not apply to a video; use forever, once, closed or a number of plays")

    def _check_images(self, kind: str, given: FitOptions) -> None:
        if self.keep_held:
            raise OptionError("--keep-held applies to a video or a folder of frames (one input, no --model)")
        for name, value in (("--multiply", self.multiply), ("--playback-fps", self.playback_fps),
                            ("--source-fps", self.source_fps)):
            if value is not None:
                raise OptionError(f"{name} applies to a video or a folder of frames (one input, no --model)")
        if kind == SAVED_PAIR:
            if self.inputs:
                raise OptionError("give either images or --from pair.pt, not both")
        elif not self.inputs or (len(self.inputs) == 1 and self.model is None):
            raise OptionError("animate needs two images A and B, A and --model, three or more keyframes, or --from pair.pt")
        if self.fit is not None and kind in (SAVED_PAIR, MODEL_ALONE):
            raise OptionError("--fit sets how B is made A's size: it applies to two or more images, not to "
                              + ("--from (the pair file holds both images)" if kind == SAVED_PAIR else "A alone with --model"))
        if given.keep_still is not None and kind in (SAVED_PAIR, MODEL_ALONE):
            raise OptionError("--keep-still applies when A and B are fitted, not to "
                              + ("--from (the pair file keeps the setting it was fitted with)" if kind == SAVED_PAIR
                                 else "A alone with --model"))
        if given.refine is not None and kind == MODEL_ALONE:
            raise OptionError("--refine applies to a fitted pair, path or video, not to A alone with --model")
        if given.warm_steps is not None and kind != PATH:
            raise OptionError("--warm-steps applies to a video or three or more keyframes (a pair has one gap)")
        if kind == PATH:
            if self.prior is not None:
                raise OptionError("--prior starts the fit of two images A and B, not a keyframe path")
            if self.model is not None:
                raise OptionError("a keyframe path (three or more images) is fitted from the images: "
                                  "--model and --from do not apply")
            if self.loop == "pingpong":
                raise OptionError("--loop pingpong does not apply to a keyframe path; use closed to return to the first image")
            return
        if self.times is not None:
            raise OptionError("--times needs three or more images (a keyframe path)")
        if self.loop == "closed":
            raise OptionError("--loop closed needs three or more images (a keyframe path); use forever or pingpong")
        if self.prior is not None and (kind != PAIR or self.model is not None):
            raise OptionError("--prior starts the fit of two images A and B (not with --model or --from)")

    def _default_output(self) -> str:
        """Where a request without ``output`` writes: named from its inputs."""
        kind = self.kind
        if kind == VIDEO:
            return _beside_source(self.inputs[0])
        if kind == SAVED_PAIR:
            return f"{Path(os.fspath(self.pair)).stem}.gif" if _is_path(self.pair) else "animation.gif"
        names = [Path(os.fspath(p)).stem if _is_path(p) else f"image{k}" for k, p in enumerate(self.inputs, start=1)]
        if kind == PATH:
            return f"{names[0]}_path.gif"
        if kind == MODEL_ALONE:
            model = Path(os.fspath(self.model)).stem if _is_path(self.model) else "model"
            return f"{names[0]}_{model}.gif"
        return f"{names[0]}_to_{names[1]}.gif" if len(names) == 2 else "animation.gif"


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike)) and not isinstance(value, np.ndarray)


def _beside_source(source) -> str:
    """``<name>_smooth.mp4``: for a folder, beside it, named from its real name (``.``, ``..``
    and a trailing slash resolved), never inside it, where it would become a frame; for a
    file, in the current folder."""
    source = Path(os.fspath(source))
    if not source.is_dir():
        # an animated PNG or WebP (stickers, often transparent) stays one; the rest become MP4
        keep = source.suffix.lower() if source.suffix.lower() in (".png", ".apng", ".webp") else ".mp4"
        return f"{source.stem}_smooth{keep}"
    real = Path(os.path.realpath(source))
    beside = os.fspath(real.parent / f"{real.name or 'frames'}_smooth.mp4")
    try:
        return os.path.relpath(beside)  # shown as the user would type it
    except ValueError:  # another drive (Windows)
        return beside
