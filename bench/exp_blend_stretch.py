"""Experiment for issue 5 (not the default): blend weights from local stretch.

    python bench/exp_blend_stretch.py K     # K = 1 or 3 in BENCHMARKS.md; runs bench/vfi.py

In the blend (1 - t) A o phi_t + t B o phi_{t-1}, each side's weight is divided by det of
its map to the power K: a side whose map stretches its image at a pixel (det > 1, content
being revealed there) counts less. Everything else is vfi.py with the default fit.
"""
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import torch.nn.functional as F  # noqa: E402

import img2gif.pair as P  # noqa: E402
import img2gif.render as R  # noqa: E402
from img2gif.warp import jacobian_determinant, resize_field, sample  # noqa: E402
K = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0  # noqa: E305

def det_full(phi):
    d = jacobian_determinant(phi).clamp_min(1e-3)  # (T, H-1, W-1)
    return F.pad(d.unsqueeze(1), (0, 1, 0, 1), mode="replicate")

@torch.no_grad()
def render(ode, a, b, times, field_size, mode="blend", chunk=None):
    times = [float(t) for t in times]
    height, width = a.shape[-2:]
    chunk = chunk or R.chunk_size(height, width, 8)
    for start in range(0, len(times), chunk):
        ts = torch.tensor(times[start:start + chunk], device=a.device, dtype=a.dtype)
        wanted = torch.cat([ts, ts - 1.0])
        phi = ode.fields(a, wanted, field_size)[:, 0]
        phi = resize_field(phi, height, width)
        fwd = sample(a, phi[:len(ts)], mode="bicubic").clamp_(0, 1)
        bwd = sample(b, phi[len(ts):], mode="bicubic").clamp_(0, 1)
        w = ts.view(-1, 1, 1, 1)
        wa = (1 - w) * det_full(phi[:len(ts)]) ** (-K)
        wb = w * det_full(phi[len(ts):]) ** (-K)
        frames = (wa * fwd + wb * bwd) / (wa + wb).clamp_min(1e-6)
        frames[ts == 0] = a
        frames[ts == 1] = b
        yield from R.to_uint8(frames)

if __name__ == "__main__":
    P.render = render
    import vfi

    vfi.main(["--threads", "1"])
