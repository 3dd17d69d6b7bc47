"""``phasecorr``: an img2gif motion estimator (entry-point group ``img2gif.estimators``).

The whole-frame shift from A to B by phase correlation: the peak of the inverse FFT of the
normalised cross-power spectrum, refined to a fraction of a pixel by a parabola through the
peak and its neighbours. Unlike img2gif's own ``shift`` search it reaches any shift up to half
the frame at no extra cost, and it is sub-pixel; like it, it sees one motion only.

The contract (``img2gif.estimators``): ``propose(a, b, *, start=None, still=None)`` takes
(1, C, H, W) images in [0, 1] and returns (K, 2, h, w) displacements in normalised units with
``b(p) ~ a(p + phi(p))``; a 1x1 field is a translation.
"""
from __future__ import annotations

import torch


class PhaseCorrelation:
    """Proposes one translation (1, 2, 1, 1); a given ``start`` is kept (it knows more than one
    shift does). ``window``: taper the frame's edges (a Hann window) so that they do not vote
    for no motion."""

    def __init__(self, window: bool = True):
        self.window = bool(window)

    def propose(self, a, b, *, start=None, still=None):
        if start is not None:
            return start
        if a.ndim != 4 or a.shape != b.shape or a.shape[0] != 1:
            raise ValueError(f"a and b must both be (1, C, H, W) of one size, got {tuple(a.shape)} and {tuple(b.shape)}")
        h, w = a.shape[-2:]
        ga, gb = (x.mean(1)[0].double() for x in (a, b))
        ga, gb = ga - ga.mean(), gb - gb.mean()
        if self.window:
            taper = torch.outer(torch.hann_window(h, periodic=False, dtype=ga.dtype),
                                torch.hann_window(w, periodic=False, dtype=ga.dtype))
            ga, gb = ga * taper.to(ga.device), gb * taper.to(gb.device)
        cross = torch.fft.fft2(ga) * torch.fft.fft2(gb).conj()
        surface = torch.fft.ifft2(cross / cross.abs().clamp_min(1e-12)).real
        peak = int(torch.argmax(surface))
        py, px = divmod(peak, w)
        dy, dx = _subpixel(surface, py, px, 0), _subpixel(surface, py, px, 1)
        # the peak sits at a's content offset from b's: b(p) = a(p + d) with d = peak, wrapped
        dx, dy = _wrap(px + dx, w), _wrap(py + dy, h)
        return a.new_tensor([dx * 2.0 / max(w - 1, 1), dy * 2.0 / max(h - 1, 1)]).view(1, 2, 1, 1)


def _subpixel(surface, py, px, axis):
    """Offset in (-0.5, 0.5) of the parabola's top through the peak and its two neighbours."""
    n = surface.shape[axis]
    if n < 3:
        return 0.0
    at = lambda k: float(surface[(py + k) % n, px] if axis == 0 else surface[py, (px + k) % surface.shape[1]])  # noqa: E731
    left, mid, right = at(-1), at(0), at(1)
    bend = left - 2 * mid + right
    return 0.0 if bend >= 0 else max(-0.5, min(0.5, 0.5 * (left - right) / bend))


def _wrap(d, n):
    return d - n if d > n / 2 else d
