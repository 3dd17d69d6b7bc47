"""Where a frame's time is decided: frame counts, easing, playback order and delays.

Conventions: ``n`` rendered frames sample the animation at t_i = ease(i / (n - 1)), so the
first frame is t = 0 and the last t = 1. Played at ``fps``, each frame shows 1/fps s and the
transition lasts n / fps s. Holds lengthen the first / last frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import OptionError

DEFAULT_FPS = 30.0
DEFAULT_DURATION = 2.0
GIF_MAX_FPS = 50.0        # GIF delays are whole centiseconds; 2 cs is the shortest browsers honour
GIF_MIN_DELAY_CS = 2
MAX_FRAMES = 5000
MAX_FPS = 240.0
MIN_FPS = 0.1             # a frame shown at most 10 s (holds are the way to show one longer)
MAX_DURATION = 600.0
MAX_HOLD = 60.0
MAX_KEYFRAMES = 1000
# the shortest gap --times may give (a share of the animation): the bend between two gaps scales
# with the ratio of their lengths squared, which must stay far inside float32's range
MIN_KEYFRAME_GAP = 1e-6
EASINGS = ("linear", "smooth")
LOOPS = ("forever", "once", "pingpong", "closed")  # closed: a keyframe path that returns to its start


@dataclass(frozen=True)
class FramePlan:
    """How many frames to render and how fast they play."""

    count: int
    fps: float

    @property
    def duration(self) -> float:
        return self.count / self.fps


def plan(frames: int | None = None, fps: float | None = None, duration: float | None = None) -> FramePlan:
    """Resolve --frames / --fps / --duration: any two fix the third; defaults 30 fps, 2 s."""
    if frames is not None and not 2 <= frames <= MAX_FRAMES:
        raise OptionError(f"--frames must be between 2 and {MAX_FRAMES}, got {frames}")
    if fps is not None and not (MIN_FPS <= fps <= MAX_FPS and math.isfinite(fps)):
        raise OptionError(f"--fps must be at least {MIN_FPS:g} and at most {MAX_FPS:g}, got {fps}")
    if duration is not None and not (0 < duration <= MAX_DURATION and math.isfinite(duration)):
        raise OptionError(f"--duration must be > 0 and at most {MAX_DURATION:g} s, got {duration}")
    if frames is not None and fps is not None and duration is not None:
        raise OptionError("give at most two of --frames, --fps and --duration")
    if frames is not None:
        if fps is None:
            fps = frames / duration if duration is not None else DEFAULT_FPS
            if fps < MIN_FPS:
                raise OptionError(f"--frames {frames} over --duration {duration:g} s is {fps:.3g} fps, "
                                  f"under the minimum of {MIN_FPS:g} (use --hold-start/--hold-end to show a frame longer)")
        return FramePlan(frames, float(fps))
    fps = float(fps) if fps is not None else DEFAULT_FPS
    duration = float(duration) if duration is not None else DEFAULT_DURATION
    count = max(2, round(fps * duration))
    if count > MAX_FRAMES:
        raise OptionError(f"{fps:g} fps for {duration:g} s is {count} frames, over the limit of {MAX_FRAMES}")
    return FramePlan(count, fps)


def cap_rate(frame_plan: FramePlan, max_fps: float) -> FramePlan:
    """Same duration at <= ``max_fps``."""
    if frame_plan.fps <= max_fps:
        return frame_plan
    count = max(2, round(frame_plan.duration * max_fps))
    return FramePlan(count, count / frame_plan.duration)


def check_ease(kind: str) -> None:
    """Refuse an unknown --ease (before any work)."""
    if kind not in EASINGS:
        raise OptionError(f"unknown --ease {kind!r}; choose one of {', '.join(EASINGS)}")


def check_playback(loop: str, hold_start: float = 0.0, hold_end: float = 0.0) -> None:
    """Refuse an unknown --loop or holds out of range (before any work). --loop is one of
    ``LOOPS`` or a number of plays."""
    if loop not in LOOPS:
        from .encoding import plays_of

        plays_of(loop)  # raises the one-line error for anything that is not a count
    for name, hold in (("--hold-start", hold_start), ("--hold-end", hold_end)):
        if not (0 <= hold <= MAX_HOLD and math.isfinite(hold)):
            raise OptionError(f"{name} must be between 0 and {MAX_HOLD:g} s, got {hold}")


def for_format(frame_plan: FramePlan, capabilities) -> tuple[FramePlan, str | None]:
    """The plan a format (its ``writers.Capabilities``) can play, and why it changed (None if
    it did not): over its ``max_fps`` (GIF: 50, as browsers play delays under 2 cs as 10 cs)
    the animation is sampled at max_fps over the same duration."""
    top = capabilities.max_fps
    if top is None or frame_plan.fps <= top:
        return frame_plan, None
    capped = cap_rate(frame_plan, top)
    why = f" ({capabilities.max_fps_reason})" if capabilities.max_fps_reason else ""
    return capped, (f"{capabilities.label} cannot play {frame_plan.fps:g} fps{why}: "
                    f"writing {capped.count} frames at {capped.fps:g} fps over the same {frame_plan.duration:.2f} s; "
                    "use a format without that limit (.mp4, .webp or .png) for higher frame rates")


def ease(t: float, kind: str = "linear") -> float:
    """Time remapping: 'linear' (identity) or 'smooth' (smoothstep: eases in and out)."""
    if kind == "linear":
        return t
    if kind == "smooth":
        return t * t * (3.0 - 2.0 * t)
    raise OptionError(f"unknown --ease {kind!r}; choose one of {', '.join(EASINGS)}")


def frame_times(count: int, kind: str = "linear", direction: float = 1.0, closed: bool = False) -> list[float]:
    """Animation times of ``count`` rendered frames: t_0 = 0, t_{n-1} = 1 (``direction`` -1:
    the way back, t_{n-1} = -1, what ``reverse`` plays from the last frame). ``closed``: a
    cycle, t_k = k / count, so the frame at 1 (the first again) is not repeated when it loops."""
    if count < 2:
        raise OptionError(f"need at least 2 frames, got {count}")
    if direction not in (1.0, -1.0):
        raise ValueError(f"direction must be 1 or -1, got {direction}")
    spans = count if closed else count - 1
    return [direction * ease(i / spans, kind) for i in range(count)]


def time_from_b(t):
    """B sits at t = 1: B carried to animation time t is B warped by Phi_{t - 1}."""
    return t - 1.0


def playback(count: int, fps: float, loop: str = "forever", hold_start: float = 0.0, hold_end: float = 0.0) -> list[tuple[int, float]]:
    """Output order as (rendered frame index, seconds shown); pingpong plays back and forth."""
    check_playback(loop, hold_start, hold_end)
    step = 1.0 / fps
    order = list(range(count))
    if loop == "pingpong":
        order += list(range(count - 2, 0, -1))
    shown = []
    for i in order:
        seconds = step + (hold_start if i == 0 else 0.0) + (hold_end if i == count - 1 else 0.0)
        shown.append((i, seconds))
    return shown


def _accumulated(seconds: list[float], units_per_second: float, minimum: int) -> list[int]:
    # Round each frame's end time, not each delay, so rounding errors never add up.
    out, clock, written = [], 0.0, 0
    for s in seconds:
        clock += s
        end = round(clock * units_per_second)
        delay = max(minimum, end - written)
        out.append(delay)
        written += delay
    return out


GIF_MAX_DELAY_CS = 65535  # a GIF delay is a 16-bit number of centiseconds


def gif_delays_cs(seconds: list[float]) -> list[int]:
    """GIF delays in centiseconds by accumulated rounding, none below 2 cs."""
    delays = _accumulated(seconds, 100, GIF_MIN_DELAY_CS)
    if max(delays, default=0) > GIF_MAX_DELAY_CS:
        raise OptionError(f"a GIF frame can be shown at most {GIF_MAX_DELAY_CS / 100:g} s, "
                          f"this one would be {max(delays) / 100:g} s")
    return delays


def gif_played_cs(delay_cs: int) -> int:
    """How long browsers show a GIF frame with this delay: 0 and 1 cs play as 10 cs."""
    return delay_cs if delay_cs > 1 else 10


def delays_ms(seconds: list[float]) -> list[int]:
    """Millisecond delays (WebP, APNG) by accumulated rounding, none below 1 ms."""
    return _accumulated(seconds, 1000, 1)


def repeat_counts(seconds: list[float], fps: float) -> list[int]:
    """For constant-rate video: how many times to write each frame (holds become repeats)."""
    return _accumulated(seconds, fps, 1)


# --- keyframe paths: when each keyframe is reached ------------------------------------------

def keyframe_times(times, count: int, closed: bool) -> list[float]:
    """When each keyframe is reached, in [0, 1]; None: evenly spaced. Open: first 0, last 1.
    Closed: first 0, all below 1 (the path returns to the first keyframe at 1)."""
    if count < 3:
        raise OptionError(f"a keyframe path needs at least 3 images, got {count}")
    if count > MAX_KEYFRAMES:
        raise OptionError(f"a keyframe path takes at most {MAX_KEYFRAMES} images, got {count}")
    if times is None:
        spans = count if closed else count - 1
        return [k / spans for k in range(count)]
    values = [float(t) for t in times]
    if len(values) != count:
        raise OptionError(f"--times has {len(values)} values for {count} images; give one per image")
    if not all(math.isfinite(v) for v in values):
        raise OptionError(f"--times must be finite numbers, got {times}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise OptionError(f"--times must be strictly increasing, got {','.join(f'{v:g}' for v in values)}")
    if values[0] != 0.0:
        raise OptionError(f"--times must start at 0 (the first image), got {values[0]:g}")
    if closed and values[-1] >= 1.0:
        raise OptionError(f"with --loop closed the last of --times must be below 1 (1 is the return to the first image), got {values[-1]:g}")
    if not closed and values[-1] != 1.0:
        raise OptionError(f"--times must end at 1 (the last image), got {values[-1]:g}")
    shortest = min(b - a for a, b in zip(values, values[1:] + ([1.0] if closed else [])))
    if shortest < MIN_KEYFRAME_GAP:
        raise OptionError(f"--times: every gap between keyframes must be at least {MIN_KEYFRAME_GAP:g} of the "
                          f"animation, got {shortest:g}")
    return values


def parse_times(text: str | None):
    """'0,0.2,1' -> [0.0, 0.2, 1.0] (None stays None)."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise OptionError(f"--times must be numbers separated by commas, like 0,0.2,1; got {text!r}") from None
