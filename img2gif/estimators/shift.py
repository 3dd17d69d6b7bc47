"""``shift``: the whole-frame shift that best maps A onto B, searched exhaustively.

Why: a gradient fit only sees motion of a few pixels at its coarsest level; a brute force
over every shift of a small copy gives a reach of ``reach`` of the frame each way in
milliseconds.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..still import fit_weight
from ..warp import pixels_to_normalised, resize_image

SEARCH_SIDE = 48  # longer side of the copy searched, in pixels


class GlobalShift:
    """Proposes ``count`` integer shifts of a ``SEARCH_SIDE``-pixel copy, best first, as
    1x1 fields; a given ``start`` is returned as it is (a shift adds nothing to a field)."""

    def __init__(self, reach: float = 0.25, count: int = 1):
        if not 0 < float(reach) <= 1 or int(count) < 1:
            raise ValueError(f"need 0 < reach <= 1 and count >= 1, got reach={reach}, count={count}")
        self.reach, self.count = float(reach), int(count)

    def propose(self, a, b, *, start=None, still=None):
        if start is not None:
            return start
        from ..fit import working_shape

        tiny = working_shape(*a.shape[-2:], SEARCH_SIDE)
        keep = None if still is None else fit_weight(still.to(a), tiny)
        shifts = shift_candidates(resize_image(a, tiny), resize_image(b, tiny), self.reach, self.count, keep)
        return a.new_tensor([pixels_to_normalised(s, *tiny) for s in shifts]).view(-1, 2, 1, 1)


def shift_candidates(a, b, reach: float, count: int, keep=None) -> list[tuple[float, float]]:
    """Integer shifts (dx, dy) in pixels that best map a onto b, best first.
    ``keep``: None or (1, 1, h, w), the weight of b's pixels (0 on still overlays, which
    would vote for no shift). Error per shift: mean |a(p + d) - b(p)| over the overlap (all
    shifts at once by unfold)."""
    h, w = a.shape[-2:]
    rx, ry = max(1, int(reach * w)), max(1, int(reach * h))
    gray_a, gray_b = a.mean(1, keepdim=True), b.mean(1, keepdim=True)
    pad = (rx, rx, ry, ry)
    a_pad = F.pad(gray_a, pad)
    mask = F.pad(torch.ones_like(gray_a), pad)
    # columns of unfold = every (dy, dx) window of the padded a, in row-major shift order
    a_win = F.unfold(a_pad, (h, w))        # (1, h*w, shifts)
    m_win = F.unfold(mask, (h, w))
    if keep is not None:
        m_win = m_win * keep.reshape(1, -1, 1)
    diff = (a_win - gray_b.reshape(1, -1, 1)).abs() * m_win
    err = diff.sum(1) / m_win.sum(1).clamp_min(1.0)
    err = err.view(2 * ry + 1, 2 * rx + 1)
    # a shift must keep half the frame in view to count (small overlaps match anything)
    overlap = m_win.sum(1).view_as(err) / (m_win.sum(1).max().clamp_min(1.0) if keep is not None else h * w)
    err = torch.where(overlap >= 0.5, err, torch.full_like(err, float("inf")))
    best = int(torch.argmin(err))
    dy, dx = best // (2 * rx + 1) - ry, best % (2 * rx + 1) - rx
    # Keep the identity unless the shift explains the pair clearly better.
    first = (0.0, 0.0) if err.view(-1)[best] > 0.9 * err[ry, rx] else (float(dx), float(dy))
    found = [first]
    if count > 1:
        # other hypotheses: local minima of the error surface, best first, not next to one taken
        local = err == -F.max_pool2d(-err[None, None], 5, stride=1, padding=2)[0, 0]
        order = torch.argsort(torch.where(local, err, torch.full_like(err, float("inf"))).view(-1))
        for idx in order.tolist():
            if len(found) >= count or not torch.isfinite(err.view(-1)[idx]):
                break
            cand = (float(idx % (2 * rx + 1) - rx), float(idx // (2 * rx + 1) - ry))
            if all(max(abs(cand[0] - f[0]), abs(cand[1] - f[1])) > 2 for f in found):
                found.append(cand)
        if all(f != (0.0, 0.0) for f in found) and len(found) < count:
            found.append((0.0, 0.0))
    return found
