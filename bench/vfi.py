"""Frame-interpolation quality of img2gif on the VFI dev set, against a crossfade baseline.

    python bench/vfi.py                 # whole set (a few minutes on 2 CPU cores)
    python bench/vfi.py --limit 3       # smoke run: first 3 cases
    python bench/vfi.py --every 4       # every 4th case
    python bench/vfi.py --peers         # with OpenCV DIS in the same run

For each case ``<clip>_s<start>_g<G>`` the inputs are frame_000 and frame_<G>; the
in-betweens at t = k/G (k = 1..G-1) are predicted by

* img2gif: ``read_image`` both, ``fit_pair`` with default ``FitSettings`` on CPU,
  ``pair.frames(times, mode='blend')`` (the pieces the default ``animate`` runs);
* crossfade: ``round((1 - t) A + t B)``;
* with ``--peers``, OpenCV DIS (medium, both ways, Super SloMo's linear blend: ``peers.dis_frames``;
  ``pip install -e ".[bench]"``), measured in the same run.

With ``--prior PRIOR.pt`` (a pair prior from ``img2gif train --prior``) two more methods run:

* prior+fit: the same fit, started from the prior's Phi_1 (what ``animate --prior`` does);
* prior: the prior alone, two-sided: (1 - t) A o Phi^{AB}_t + t B o Phi^{BA}_{1-t}, its
  fields (at the prior's working size) upsampled to the frame.

Predictions go to bench/out/vfi/<method>/<case>/frame_XXX.png and are scored by
../shared/tools/vfi_score.py (PSNR, SSIM, detail). Also measured, per case:

* s/pair: wall time of the fit + rendering 60 frames (t = 0..1) at the set's 256-px size,
  timed separately from the scored frames, after one untimed warm-up fit; image reading and
  PNG writing are not included;
  the crossfade's s/pair is the time to compute its 60 frames;
* folded pixels: ``pair.folds()`` (det <= 0 at t = 0.25, 0.5, 0.75, 1, -1), summed (target 0).

Peak RSS is this process's ru_maxrss at the end (the scorer runs in a child, not counted).
Raw results: bench/out/vfi.json. The table goes to stdout.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's img2gif, not an installed one
from _common import (OtherLoad, OUT, ROOT, environment, fit_overrides, fit_settings, fmt, markdown_table,  # noqa: E402
                     median, peak_rss_mb, write_json)

from peers import crossfade, dis_frames, run_scorer, save_frames  # noqa: E402
import img2gif  # noqa: E402

CASE_RE = re.compile(r"^(?P<clip>.+)_s(?P<start>\d+)_g(?P<G>\d+)$")
RENDER_FRAMES = 60
METHODS = ("img2gif", "crossfade")


def list_cases(set_dir: Path) -> list[dict]:
    cases = []
    for p in sorted(set_dir.iterdir()):
        m = CASE_RE.match(p.name)
        if p.is_dir() and m:
            cases.append({"name": p.name, "clip": m["clip"], "G": int(m["G"]), "path": p})
    return cases


def prior_frames(prior, a: np.ndarray, b: np.ndarray, times) -> list[np.ndarray]:
    """The prior alone, two-sided: A carried forward, B carried back, blended by t."""
    from img2gif.pair import to_tensor
    from img2gif.warp import resize_field, sample

    ta, tb = to_tensor(a, torch.device("cpu")), to_tensor(b, torch.device("cpu"))
    forward = prior.fields(ta, tb, times)[:, 0]
    backward = prior.fields(tb, ta, [1 - t for t in times])[:, 0]
    size = ta.shape[-2:]
    out = []
    for k, t in enumerate(times):
        fa, fb = resize_field(forward[k:k + 1], *size), resize_field(backward[k:k + 1], *size)
        frame = (1 - t) * sample(ta, fa) + t * sample(tb, fb)
        out.append((frame[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy())
    return out


def run_prior_case(case: dict, pred_root: Path, settings: img2gif.FitSettings, prior) -> dict:
    G = case["G"]
    a = img2gif.read_image(case["path"] / "frame_000.png")
    b = img2gif.read_image(case["path"] / f"frame_{G:03d}.png")
    ks = list(range(1, G))
    times = [k / G for k in ks]
    t0 = time.perf_counter()
    alone = prior_frames(prior, a, b, times)
    t1 = time.perf_counter()
    save_frames(pred_root / "prior" / case["name"], alone, ks)
    t2 = time.perf_counter()
    pair = img2gif.fit_pair(a, b, settings, device="cpu", prior=prior)
    t3 = time.perf_counter()
    save_frames(pred_root / "prior+fit" / case["name"], pair.frames(times, mode="blend"), ks)
    return {"prior_s": t1 - t0, "prior_fit_s": t3 - t2, "prior_fit_folds": pair.folds()}


def run_case(case: dict, pred_root: Path, settings: img2gif.FitSettings, peers: bool = False) -> dict:
    G = case["G"]
    a = img2gif.read_image(case["path"] / "frame_000.png")
    b = img2gif.read_image(case["path"] / f"frame_{G:03d}.png")
    ks = list(range(1, G))
    times = [k / G for k in ks]
    render_times = [i / (RENDER_FRAMES - 1) for i in range(RENDER_FRAMES)]

    t0 = time.perf_counter()
    pair = img2gif.fit_pair(a, b, settings, device="cpu")
    t1 = time.perf_counter()
    pair.frames(render_times, mode="blend")
    t2 = time.perf_counter()
    save_frames(pred_root / "img2gif" / case["name"], pair.frames(times, mode="blend"), ks)
    folds = pair.folds()

    t3 = time.perf_counter()
    crossfade(a, b, render_times)
    t4 = time.perf_counter()
    save_frames(pred_root / "crossfade" / case["name"], crossfade(a, b, times), ks)
    result = {"case": case["name"], "G": G, "size": [a.shape[1], a.shape[0]], "fit_s": t1 - t0,
              "render60_s": t2 - t1, "pair_s": t2 - t0, "crossfade60_s": t4 - t3, "folds": folds}
    if peers:
        t5 = time.perf_counter()
        dis_frames(a, b, render_times)
        result["dis60_s"] = time.perf_counter() - t5
        save_frames(pred_root / "dis" / case["name"], dis_frames(a, b, times), ks)
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="../shared/data/vfi-dev", help="set directory (relative paths: from the repo root)")
    ap.add_argument("--scorer", default="../shared/tools/vfi_score.py", help="scorer script (relative: from the repo root)")
    ap.add_argument("--limit", type=int, help="only the first N cases (after --every)")
    ap.add_argument("--every", type=int, default=1, help="every K-th case")
    ap.add_argument("--fit", action="append", default=[], metavar="KEY=JSON",
                    help="override a FitSettings field for an experiment, e.g. --fit grid_spacing=2 "
                         "--fit 'steps=[80,50,60]' (the default is what animate uses)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (2 = this machine's cores)")
    ap.add_argument("--prior", type=Path, help="a pair prior (.pt): also score prior+fit and the prior alone")
    ap.add_argument("--peers", action="store_true", help="also OpenCV DIS, in the same run (the bench extra)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = fit_overrides(args.fit)
    settings = fit_settings(overrides)
    set_dir = (ROOT / args.set).resolve()
    scorer = (ROOT / args.scorer).resolve()

    all_cases = list_cases(set_dir)
    cases = all_cases[:: max(1, args.every)][: args.limit]
    if not cases:
        sys.exit(f"no cases in {set_dir}")
    work = OUT / "vfi"
    methods = METHODS + (("dis",) if args.peers else ()) + (("prior+fit", "prior") if args.prior else ())
    prior = None
    if args.prior:
        from img2gif.prior import PairPrior

        prior = PairPrior.load(args.prior)
    for sub in (*methods, "subset"):
        shutil.rmtree(work / sub, ignore_errors=True)
    score_set = set_dir
    if len(cases) < len(all_cases):  # the scorer scores a whole set: give it a view of the chosen cases
        score_set = work / "subset"
        score_set.mkdir(parents=True)
        for c in cases:
            (score_set / c["name"]).symlink_to(c["path"], target_is_directory=True)

    started, other = time.perf_counter(), OtherLoad()
    # One untimed fit first: the first fit in a process pays one-off set-up (kernel selection,
    # allocator); without it the first case's time is inflated. Its time is kept in the JSON.
    a0 = img2gif.read_image(cases[0]["path"] / "frame_000.png")
    img2gif.fit_pair(a0, a0, settings, device="cpu")
    warmup_s = time.perf_counter() - started
    per_case = []
    for i, case in enumerate(cases, 1):
        r = run_case(case, work, settings, args.peers)
        if prior is not None:
            r.update(run_prior_case(case, work, settings, prior))
        per_case.append(r)
        print(f"[{i}/{len(cases)}] {r['case']}: fit {r['fit_s']:.2f} s, render60 {r['render60_s']:.2f} s, "
              f"folds {r['folds']}", file=sys.stderr, flush=True)
    rss = peak_rss_mb()
    scores = {m: run_scorer(scorer, score_set, work / m, "--out", str(work / f"scores_{m}.json")) for m in methods}
    total = time.perf_counter() - started

    summary = {
        "img2gif": {"s_per_pair_median": median([r["pair_s"] for r in per_case]),
                    "fit_s_median": median([r["fit_s"] for r in per_case]),
                    "render60_s_median": median([r["render60_s"] for r in per_case]),
                    "folds_total": sum(r["folds"] for r in per_case), "peak_rss_mb": rss},
        "crossfade": {"s_per_pair_median": median([r["crossfade60_s"] for r in per_case])},
    }
    if args.peers:
        summary["dis"] = {"s_per_pair_median": median([r["dis60_s"] for r in per_case])}
    if prior is not None:  # s/pair: the prior's in-betweens alone; the fit from it (no 60-frame render)
        summary["prior"] = {"s_per_pair_median": median([r["prior_s"] for r in per_case])}
        summary["prior+fit"] = {"s_per_pair_median": median([r["prior_fit_s"] for r in per_case]),
                                "folds_total": sum(r["prior_fit_folds"] for r in per_case)}
    result = {"benchmark": "vfi", "set": str(set_dir), "n_cases": len(cases), "of_cases": len(all_cases),
              "every": args.every, "limit": args.limit, "fit_overrides": overrides, "fit_settings": settings.to_dict(), "render_frames": RENDER_FRAMES, "wall_s": total,
              "warmup_fit_s": warmup_s, "other_load_cores": other.cores(), "environment": environment(),
              "summary": summary, "scores": scores, "per_case": per_case}
    path = write_json("vfi.json", result)

    headers = ["method", "PSNR all", "G=4", "G=8", "G=16", "SSIM", "detail", "s/pair (median)", "folded px", "peak RSS"]
    rows = []
    for m in methods:
        s = scores[m]
        per_g = [fmt(s["per_G"].get(g, {}).get("psnr")) for g in ("4", "8", "16")]
        rows.append([m, fmt(s["psnr"]), *per_g, fmt(s["ssim"], ".4f"), fmt(s["detail"], ".3f"),
                     fmt(summary[m]["s_per_pair_median"], ".3f") + " s",
                     str(summary[m].get("folds_total", "—")),
                     f"{rss:.0f} MiB" if m == "img2gif" else "—"])
    d_psnr = scores["img2gif"]["psnr"] - scores["crossfade"]["psnr"]
    speed_ratio = summary["img2gif"]["s_per_pair_median"] / summary["crossfade"]["s_per_pair_median"]
    n_frames = scores["img2gif"]["n_frames"]
    print(f"VFI dev set: {len(cases)} of {len(all_cases)} cases, {n_frames} scored frames; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; "
          f"fit overrides: {overrides or 'none (the default settings)'}.\n")
    print(markdown_table(headers, rows))
    print(f"\nimg2gif vs crossfade (same run): PSNR {d_psnr:+.2f} dB, SSIM "
          f"{scores['img2gif']['ssim'] - scores['crossfade']['ssim']:+.4f}, detail "
          f"{scores['img2gif']['detail'] / scores['crossfade']['detail']:.3f}x, time per pair {speed_ratio:.0f}x. "
          f"s/pair = fit + 60 frames at 256 px (median fit {summary['img2gif']['fit_s_median']:.2f} s, "
          f"render {summary['img2gif']['render60_s_median']:.2f} s). Peak RSS: whole benchmark process. " + other.note())
    if prior is not None:
        print("\ns/pair of prior: its in-between frames alone; of prior+fit: the prior and the fit, without the "
              "60-frame render img2gif's s/pair includes.")
    print(f"\nRaw results: {path.relative_to(ROOT)}; took {total:.0f} s.", file=sys.stderr)


if __name__ == "__main__":
    main()
