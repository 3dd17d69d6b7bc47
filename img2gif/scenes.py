"""Layered scenes with known motion: training pairs that cost nothing.

A scene is a background photo and a few textured cut-outs (random smooth blobs cut from
other photos), each moving with its own large affine motion (shift up to a quarter of the
frame, rotation, zoom) plus an optional smooth non-rigid bend, in front of each other, with a
global brightness change and sensor noise. Because every layer's motion is known, so is
everything a warp is trained on: the true frames at any t in [0, 1] and the true fields

    frames[k] ~= sample(a, fields[k])   where valid[k]   (img2gif.warp conventions)

``fields[k]`` (2, H, W), normalised units, is where the point seen at p at time ``times[k]``
was at t = 0; ``valid[k]`` is False where that point was hidden at t = 0 (behind a layer in
front, or outside A's frame) and on layer edges, where two layers blend. ``b`` is the frame at
t = 1, so ``fields`` at t = 1 warps A onto B where nothing is occluded.

The photos are the sample photos scikit-image ships (:func:`package_photos`, all CC0 or
public domain), found without importing it; any photos can be given instead.
"""
from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# scikit-image's sample photos with no copyright restrictions (CC0 or public domain; its
# data/_fetchers.py docstrings say which). Its Middlebury stereo pair is left out (research use).
PACKAGE_PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg", "brick.png",
                  "grass.png", "gravel.png", "hubble_deep_field.jpg", "retina.jpg")


def package_photos() -> list[Path]:
    """The sample photos of the installed scikit-image (``pip install img2gif[prior]``)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("scene photos come from scikit-image's sample data: pip install 'img2gif[prior]' "
                                  "(or give photos=[...])")
    folder = Path(spec.origin).parent / "data"
    found = [folder / name for name in PACKAGE_PHOTOS if (folder / name).is_file()]
    if len(found) < 2:
        raise FileNotFoundError(f"{folder}: scikit-image's sample photos are missing (found {len(found)})")
    return found


@dataclass
class SceneSettings:
    """How the scenes vary. Lengths are fractions of the frame's width; angles in degrees."""

    size: tuple[int, int] = (128, 128)     # (H, W)
    layers: tuple[int, int] = (1, 4)       # foreground cut-outs per scene, inclusive range
    max_shift: float = 0.25                # a cut-out's largest move, fraction of the width
    max_rotation: float = 30.0
    max_zoom: float = 1.25                 # scale change within [1/max_zoom, max_zoom]
    background_shift: float = 0.08         # the camera: a smaller pan and zoom of the background
    nonrigid: float = 0.03                 # amplitude of the smooth bend, fraction of the width
    brightness: float = 0.15               # B's gain within 1 +- this (linear in t)
    noise: float = 0.01                    # std of Gaussian noise per frame, in [0, 1] units

    def __post_init__(self):
        h, w = (int(v) for v in self.size)
        if h < 16 or w < 16:
            raise ValueError(f"size must be at least 16x16, got {self.size}")
        lo, hi = self.layers
        if not 0 <= lo <= hi <= 8:
            raise ValueError(f"layers must be a range within 0 ... 8, got {self.layers}")
        for name in ("max_shift", "background_shift", "nonrigid", "brightness", "noise"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.max_rotation <= 90 or not 1 <= self.max_zoom <= 2:
            raise ValueError(f"max_rotation must be in [0, 90] and max_zoom in [1, 2], got {self.max_rotation}, {self.max_zoom}")
        self.size = (h, w)


@dataclass
class Scene:
    """One generated pair. Images (C, H, W) float in [0, 1]; see the module docstring."""

    a: torch.Tensor
    b: torch.Tensor
    times: torch.Tensor    # (T,)
    frames: torch.Tensor   # (T, C, H, W) the true frames at ``times``
    fields: torch.Tensor   # (T, 2, H, W) true fields: frames[k] ~= sample(a, fields[k]) where valid[k]
    valid: torch.Tensor    # (T, 1, H, W) bool


@dataclass
class _Motion:
    """q -> c + M(t) (q - c) + t d + t bend(q): where a layer's point q (at t = 0) is at time t."""

    centre: torch.Tensor   # (2,) normalised
    angle: float           # radians at t = 1
    log_zoom: float
    shift: torch.Tensor    # (2,) normalised
    bend: torch.Tensor | None  # (2, h, w) coarse smooth field, normalised

    def matrix(self, t: float) -> torch.Tensor:
        a, s = self.angle * t, math.exp(self.log_zoom * t)
        return s * torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)

    def inverse(self, points: torch.Tensor, t: float, aspect: float) -> torch.Tensor:
        """Where the points (N, 2) at time t were at t = 0 (a fixed-point iteration for the bend)."""
        # rotate in square units (x scaled by the aspect ratio) so a rotation stays a rotation
        unit = points.new_tensor([aspect, 1.0])
        m_inv = torch.linalg.inv(self.matrix(t)).to(points.dtype)
        base = points - self.centre - t * self.shift
        q = self.centre + ((base * unit) @ m_inv.T) / unit
        if self.bend is None or t == 0:
            return q
        for _ in range(8):  # the bend is small and smooth: the iteration contracts
            q = self.centre + (((base - t * _bend_at(self.bend, q)) * unit) @ m_inv.T) / unit
        return q


def _bend_at(bend: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    grid = points.view(1, 1, -1, 2).to(bend.dtype)
    out = F.grid_sample(bend[None], grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0, :, 0].T.to(points.dtype)


class SceneGenerator:
    """Scenes from ``photos`` (paths; default: :func:`package_photos`), one per seed.

    ``scene(seed, times)`` is deterministic: the same seed gives the same scene, bit for bit.
    """

    def __init__(self, settings: SceneSettings | None = None, photos=None, channels: int = 3):
        self.settings = settings or SceneSettings()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.channels = channels
        paths = [Path(p) for p in (photos if photos is not None else package_photos())]
        if len(paths) < 2:
            raise ValueError(f"need at least 2 photos (a background and a cut-out), got {len(paths)}")
        h, w = self.settings.size
        side = 2 * max(h, w)  # textures at twice the frame: zooms in stay sharp
        self.photos = []
        for path in paths:
            with Image.open(path) as im:
                im = im.convert("RGB")
                scale = side / min(im.size)
                im = im.resize((max(side, round(im.width * scale)), max(side, round(im.height * scale))), Image.Resampling.LANCZOS)
                arr = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)
            self.photos.append(arr.mean(0, keepdim=True) if channels == 1 else arr)

    def scene(self, seed: int, times=(0.5,)) -> Scene:
        s = self.settings
        rng = np.random.default_rng(seed)
        wanted = [float(t) for t in times]
        if not wanted or any(not 0 <= t <= 1 for t in wanted):
            raise ValueError(f"times must be one or more values in [0, 1], got {wanted}")
        h, w = s.size
        aspect = w / h
        n_layers = int(rng.integers(s.layers[0], s.layers[1] + 1))
        order = rng.permutation(len(self.photos))
        background = self._texture(order[0], rng, cover=1.0 + 2 * s.background_shift + 0.3)
        layers = [(background, None, self._motion(rng, s.background_shift, 0.25 * s.max_rotation, s.max_zoom ** 0.25, None))]
        for k in range(n_layers):
            photo = order[1 + k % (len(order) - 1)]
            texture = self._texture(photo, rng, cover=1.0)
            mask = self._blob(rng)
            layers.append((texture, mask, self._motion(rng, s.max_shift, s.max_rotation, s.max_zoom, rng)))
        grid = _pixel_grid(h, w)  # (H*W, 2) normalised x, y
        at_zero = self._render(layers, grid, 0.0, aspect)
        gain = 1.0 + float(rng.uniform(-s.brightness, s.brightness))
        noise_gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        a = self._finish(at_zero[0], 1.0, noise_gen)
        at = {}  # each time rendered once (with its own noise): B is the frame at t = 1
        for t in sorted(set(wanted) | {1.0}):
            image, top, source, solid = self._render(layers, grid, t, aspect)
            # the point seen here was visible at t = 0: the same layer on top there, solidly, inside A
            top0 = _read_frame_map(at_zero[1], source, (h, w)).round().long()
            solid0 = _read_frame_map(at_zero[3], source, (h, w)) > 0.5
            inside = (source.abs() <= 1.0).all(1)
            at[t] = (self._finish(image, 1.0 + (gain - 1.0) * t, noise_gen), (source - grid).T.reshape(2, h, w).float(),
                     (solid & solid0 & inside & (top0 == top)).reshape(1, h, w))
        return Scene(a=a, b=at[1.0][0], times=torch.tensor(wanted, dtype=torch.float32),
                     frames=torch.stack([at[t][0] for t in wanted]), fields=torch.stack([at[t][1] for t in wanted]),
                     valid=torch.stack([at[t][2] for t in wanted]))

    def batch(self, seeds, times=(0.5,)) -> Scene:
        """Scenes for ``seeds`` stacked: a, b (B, C, H, W); frames (T, B, C, H, W); fields (T, B, 2, H, W)."""
        scenes = [self.scene(int(seed), times) for seed in seeds]
        return Scene(a=torch.stack([x.a for x in scenes]), b=torch.stack([x.b for x in scenes]), times=scenes[0].times,
                     frames=torch.stack([x.frames for x in scenes], 1), fields=torch.stack([x.fields for x in scenes], 1),
                     valid=torch.stack([x.valid for x in scenes], 1))

    # -- parts -------------------------------------------------------------------------------

    def _texture(self, index: int, rng, cover: float) -> torch.Tensor:
        """A random crop of a photo covering ``cover`` x the frame (C, h, w), possibly mirrored."""
        h, w = self.settings.size
        photo = self.photos[index]
        ch, cw = min(photo.shape[1], round(cover * 2 * h)), min(photo.shape[2], round(cover * 2 * w))
        y = int(rng.integers(0, photo.shape[1] - ch + 1))
        x = int(rng.integers(0, photo.shape[2] - cw + 1))
        crop = photo[:, y:y + ch, x:x + cw]
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        return crop.contiguous()

    def _blob(self, rng) -> torch.Tensor:
        """A smooth random shape (1, 2h, 2w) alpha in [0, 1], 15-40 % of the frame across."""
        h, w = self.settings.size
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, 2 * h), torch.linspace(-1, 1, 2 * w), indexing="ij")
        cx, cy = rng.uniform(-0.4, 0.4, size=2)
        radius = rng.uniform(0.15, 0.40)
        angle = torch.atan2(ys - cy, (xs - cx) * w / h)
        r = torch.hypot((xs - cx) * w / h, ys - cy)
        edge = torch.full_like(angle, radius)
        for k in range(2, 6):  # a few lobes: not a disc
            edge = edge + radius * float(rng.uniform(0, 0.25)) / k * torch.cos(k * angle + float(rng.uniform(0, 2 * math.pi)))
        softness = 1.0 / h  # about one output pixel of anti-aliased edge
        return ((edge - r) / softness).clamp(-0.5, 0.5).add(0.5)[None]

    def _motion(self, rng, max_shift, max_rotation, max_zoom, bend_rng) -> _Motion:
        s = self.settings
        shift = torch.tensor(rng.uniform(-1, 1, size=2) * 2 * max_shift, dtype=torch.float64)  # normalised: 2 = frame
        shift[1] *= s.size[1] / s.size[0]  # the same fraction of the width, vertically
        centre = torch.tensor(rng.uniform(-0.4, 0.4, size=2), dtype=torch.float64)
        bend = None
        if bend_rng is not None and s.nonrigid > 0:
            # a 4x4 field of random moves, bilinear between: smooth, Lipschitz well below 1
            bend = torch.tensor(bend_rng.normal(0, 2 * s.nonrigid, size=(2, 4, 4)), dtype=torch.float64)
        return _Motion(centre=centre, angle=math.radians(float(rng.uniform(-max_rotation, max_rotation))),
                       log_zoom=float(rng.uniform(-math.log(max_zoom), math.log(max_zoom))), shift=shift, bend=bend)

    def _render(self, layers, grid, t, aspect):
        """The frame at t (C, H*W), the top layer per pixel, where it came from, and solidity."""
        h, w = self.settings.size
        image = torch.zeros(self.channels, grid.shape[0])
        top = torch.zeros(grid.shape[0], dtype=torch.long)
        source = torch.zeros_like(grid)
        alpha_top = torch.zeros(grid.shape[0])
        covered_above = torch.zeros(grid.shape[0])
        for index, (texture, mask, motion) in enumerate(layers):
            q = motion.inverse(grid, t, aspect)
            # the background mirrors at its edges (it must fill the frame); a cut-out ends at its mask
            colour = _read_texture(texture, q, (h, w), "reflection" if mask is None else "zeros")
            alpha = torch.ones(grid.shape[0]) if mask is None else _read_texture(mask, q, (h, w), "zeros")[0]
            image = image * (1 - alpha) + colour * alpha
            on_top = alpha > 0.5
            top = torch.where(on_top, index, top)
            source = torch.where(on_top[:, None], q, source)
            # solid: the top layer is opaque here and nothing above it is half there
            covered_above = torch.where(on_top, torch.zeros_like(alpha), torch.maximum(covered_above, alpha))
            alpha_top = torch.where(on_top, alpha, alpha_top)
        solid = (alpha_top > 0.99) & (covered_above < 0.01)
        return image, top, source, solid

    def _finish(self, image, gain, generator) -> torch.Tensor:
        h, w = self.settings.size
        out = image.reshape(self.channels, h, w) * gain
        if self.settings.noise:
            out = out + self.settings.noise * torch.randn(out.shape, generator=generator)
        return out.clamp(0, 1)


def _pixel_grid(h: int, w: int) -> torch.Tensor:
    """(H*W, 2) pixel centres in normalised x, y (align_corners=True: -1 and 1 are the outer pixels)."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, dtype=torch.float64), torch.linspace(-1, 1, w, dtype=torch.float64), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], 1)


def _read_texture(texture: torch.Tensor, points: torch.Tensor, frame: tuple[int, int], padding: str) -> torch.Tensor:
    """(C, N): ``texture`` (C, th, tw), held at twice the frame's resolution and centred on it,
    read at ``points`` (N, 2) in frame coordinates (-1 ... 1 spans the frame)."""
    h, w = frame
    extent = points.new_tensor([texture.shape[2] / (2 * w), texture.shape[1] / (2 * h)])  # in frames
    grid = (points / extent).to(torch.float32).view(1, 1, -1, 2)
    return F.grid_sample(texture[None], grid, mode="bilinear", padding_mode=padding, align_corners=True)[0, :, 0]


def _read_frame_map(values: torch.Tensor, points: torch.Tensor, frame: tuple[int, int]) -> torch.Tensor:
    """(N,): a per-pixel map (H*W,) of the frame read at ``points`` by the nearest pixel."""
    h, w = frame
    grid = points.to(torch.float32).view(1, 1, -1, 2)
    out = F.grid_sample(values.reshape(1, 1, h, w).to(torch.float32), grid, mode="nearest", padding_mode="zeros",
                        align_corners=True)
    return out.view(-1)


def caption(size: tuple[int, int], text: str = "Still caption 12:34", scale: int = 3, outline: int = 2,
            bottom: float = 0.08) -> tuple[torch.Tensor, torch.Tensor]:
    """A burned-in subtitle as it is drawn on footage: white text with a dark outline, in
    Pillow's default font scaled up ``scale`` times, centred near the bottom of a frame of
    ``size`` (H, W). Returns (fill, cover), each (1, H, W) in [0, 1]: the frame with the caption
    is ``frame * (1 - cover) + fill`` (``burn_caption``); ``cover`` >= 0.5 is the caption's own pixels.
    The caption does not move: lay it over every frame of a scene (its truth too)."""
    from PIL import ImageDraw, ImageFilter, ImageFont

    h, w = size
    font = ImageFont.load_default()
    left, top, right, low = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    small = Image.new("L", (right - left + 2 * outline + 2, low - top + 2 * outline + 2))
    ImageDraw.Draw(small).text((outline + 1 - left, outline + 1 - top), text, fill=255, font=font)
    big = small.resize((small.width * scale, small.height * scale), Image.Resampling.BILINEAR)
    if big.width > w or big.height > h:
        raise ValueError(f"caption {text!r} at scale {scale} is {big.width}x{big.height}, larger than the {w}x{h} frame")
    rim = big.filter(ImageFilter.MaxFilter(2 * outline + 1))  # the dark outline around the letters
    text_layer = torch.zeros(1, h, w)
    rim_layer = torch.zeros(1, h, w)
    x0, y0 = (w - big.width) // 2, max(0, h - big.height - round(bottom * h))
    text_layer[0, y0:y0 + big.height, x0:x0 + big.width] = torch.from_numpy(np.asarray(big, dtype=np.float32) / 255)
    rim_layer[0, y0:y0 + big.height, x0:x0 + big.width] = torch.from_numpy(np.asarray(rim, dtype=np.float32) / 255)
    # the small font is anti-aliased all over (few pixels reach 255): a subtitle is opaque, so
    # its strokes and outline are made solid, with a one-pixel soft edge left
    text_layer, rim_layer = (x.div(0.5 * x.max()).clamp(0, 1) for x in (text_layer, rim_layer))
    cover = torch.maximum(text_layer, rim_layer)
    return text_layer, cover  # white text (fill = text alpha), black under the rest of the cover


def burn_caption(frames: torch.Tensor, fill: torch.Tensor, cover: torch.Tensor) -> torch.Tensor:
    """frames (..., C, H, W) in [0, 1] with the caption of ``caption`` laid over each."""
    return frames * (1 - cover) + fill


# --- one moving disc: clips whose every frame's position is known ---------------------------
# For measuring what a video up-conversion does to motion (loop seams, footage on twos): a
# textured disc (stripes, so a warp has something to follow) over a flat background, drawn with
# a soft edge at any sub-pixel position, and ``disc_centre`` to find it again in any frame.

DISC_BACKGROUND = 60.0


def disc_frame(centre, size=(48, 64), radius=7.0, noise=0.0, rng=None) -> np.ndarray:
    """(H, W, 3) uint8: the disc at ``centre`` (x, y) pixels; ``noise``: std in levels."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = xs - centre[0], ys - centre[1]
    cover = np.clip(radius + 0.5 - np.hypot(dx, dy), 0.0, 1.0)  # soft edge, one pixel wide
    stripes = 0.5 + 0.5 * np.sin(dx * 1.1 + dy * 0.6)
    colour = np.stack([150 + 100 * stripes, 230 - 120 * stripes, 120 + 60 * np.cos(dy * 0.9)], axis=2)
    out = DISC_BACKGROUND * (1 - cover[..., None]) + colour * cover[..., None]
    if noise:
        out = out + (rng or np.random.default_rng(0)).normal(0.0, noise, out.shape)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def disc_centre(frame: np.ndarray) -> tuple[float, float]:
    """(x, y) of the disc in ``frame``: the centroid of what differs from the background."""
    weight = np.abs(frame.astype(np.float64) - DISC_BACKGROUND).sum(axis=2)
    weight = np.where(weight > 60.0, weight, 0.0)  # noise and a warp's faint smear do not count
    ys, xs = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
    total = weight.sum()
    return float((xs * weight).sum() / total), float((ys * weight).sum() / total)


def orbit_centres(count: int, size=(48, 64), orbit=13.0) -> list[tuple[float, float]]:
    """``count`` positions once round a circle: truly periodic (the next after the last is the first)."""
    h, w = size
    return [(w / 2 + orbit * math.cos(2 * math.pi * k / count), h / 2 + orbit * math.sin(2 * math.pi * k / count))
            for k in range(count)]


def held_centres(drawings: int, hold=2, step=2.0, start=12.0, y=24.0, pause_at=None, pause=0) -> list[tuple[float, float]]:
    """A disc moving ``step`` pixels a frame in x, drawn on ``hold``s (each drawing shown
    ``hold`` frames, placed at its first frame's time); ``pause`` more frames of drawing
    ``pause_at`` (a real pause) if given."""
    out = []
    for d in range(drawings):
        x = start + step * hold * d
        out.extend([(x, y)] * (hold + (pause if d == pause_at else 0)))
    return out


# --- a small object moving fast: where a blend shows it twice -------------------------------
# For measuring ghosts (issue 27): a small textured square crossing a panning photo much
# further than its own side. A warp that finds the pan but loses the square blends it where it
# was in A and where it is in B: two faint copies instead of one, in the middle frame.

@dataclass
class FastObjectScene:
    """Frames (H, W, 3) uint8 at t = 0, 0.5 and 1, and the middle one without the square
    (what it covers there); the square's texture (side, side, 3) uint8 and its top-left
    corner (x, y) in each frame."""

    a: np.ndarray
    middle: np.ndarray
    b: np.ndarray
    middle_background: np.ndarray
    square: np.ndarray
    at_a: tuple[int, int]
    at_middle: tuple[int, int]
    at_b: tuple[int, int]


def fast_object_scene(seed: int, size=(144, 256), side: int = 20, move: int = 48, pan: int = 6,
                      photos=None) -> FastObjectScene:
    """A ``side`` px square cut from one photo moving ``move`` px (at an angle within +-17 deg)
    over another photo panning ``pan`` px in x (and up to half that in y), from t = 0 to 1;
    deterministic per seed. ``photos``: paths (default :func:`package_photos`)."""
    h, w = size
    rise = math.ceil(move * math.sin(0.3)) + 1  # the most the square moves up or down
    if side < 4 or move < 0 or pan < 0 or h < side + 2 * rise + 2 or w < side + move + 22:
        raise ValueError(f"a {side} px square moving {move} px does not fit a {w}x{h} frame")
    paths = [Path(p) for p in (photos if photos is not None else package_photos())]
    rng = np.random.default_rng(seed)

    def crop(k: int, height: int, width: int) -> np.ndarray:
        with Image.open(paths[k % len(paths)]) as im:
            im = im.convert("RGB")
            scale = max(height / im.height, width / im.width, 1.0)
            im = im.resize((math.ceil(im.width * scale), math.ceil(im.height * scale)), Image.Resampling.LANCZOS)
            x0, y0 = int(rng.integers(0, im.width - width + 1)), int(rng.integers(0, im.height - height + 1))
            return np.asarray(im.crop((x0, y0, x0 + width, y0 + height)), dtype=np.float32)

    background = torch.from_numpy(crop(seed, h + 2 * pan + 4, w + 2 * pan + 4)).permute(2, 0, 1)[None]
    square = crop(seed + 3, side, side).round().astype(np.uint8)
    y = int(rng.integers(rise, h - side - rise + 1))
    x0 = int(rng.integers(10, w - side - move - 10))
    angle = rng.uniform(-0.3, 0.3)
    dx, dy = move * math.cos(angle), move * math.sin(angle)
    pan_x, pan_y = pan * float(rng.choice([-1, 1])), pan * rng.uniform(-0.5, 0.5)
    bh, bw = background.shape[-2:]

    def frame(t: float, with_square: bool = True) -> tuple[np.ndarray, tuple[int, int]]:
        ox, oy = pan + 2 + pan_x * t, pan + 2 + pan_y * t
        gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + oy, torch.arange(w, dtype=torch.float32) + ox,
                                indexing="ij")
        grid = torch.stack([gx / (bw - 1) * 2 - 1, gy / (bh - 1) * 2 - 1], -1)[None]
        out = F.grid_sample(background, grid, align_corners=True)[0].permute(1, 2, 0).numpy()
        out = np.clip(np.round(out), 0, 255).astype(np.uint8)
        px, py = int(round(x0 + dx * t)), int(round(y + dy * t))
        if with_square:
            out[py:py + side, px:px + side] = square
        return out, (px, py)

    (a, at_a), (middle, at_middle), (b, at_b) = frame(0.0), frame(0.5), frame(1.0)
    return FastObjectScene(a, middle, b, frame(0.5, with_square=False)[0], square, at_a, at_middle, at_b)
