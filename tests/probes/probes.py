"""Attack probes against the installed img2gif CLI: real processes, real files, real mounts.

    python tests/probes/probes.py                 # every probe (~10-15 min on 2 cores); JSON to bench/out/probes.json
    python tests/probes/probes.py --only 1,5,9    # some classes
    python tests/probes/probes.py --list          # the probes, no run
    python tests/probes/probes.py --src DIR       # run the img2gif package found in DIR (default: this checkout)

The promise probed: a bad input gets exactly ONE stderr line starting with ``error:``, exit
code 2, no traceback, nothing written (no new file, no hidden temp file) and the previous
file at the output path byte-identical; a good input gets exit 0 and a correct file.

Each probe runs ``python -m img2gif ...`` once in a fresh folder (own TMPDIR inside it, so
temp files left there are seen) with a timeout, and is classified by what a user sees:

  held:     ok (good input, correct output), error (bad input, refused as promised),
            interrupted (signal: non-zero exit, nothing partial), skipped (not run: reason)
  failures: traceback, not-one-line, wrong-exit, hang (timeout), leftover (new file or temp
            file left), lost (previous output or an input changed or replaced), lie (exit 0
            but the file is unreadable / empty / wrong format, or the "wrote" line does not
            describe it), escape (a raw C0/C1 control byte such as ESC or BEL reaches the
            terminal from a crafted name or file)

Mounts (tmpfs, read-only remounts) need root; without it those probes are skipped.
"""
from __future__ import annotations

import argparse
import collections
import fnmatch
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ["OMP_NUM_THREADS"] = "1"  # before torch: the harness itself stays on one core

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageSequence  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[2]  # the repository root
OUT = ROOT / "bench" / "out"
PREV = b"previous output: must survive a failed run\n"
FAST = ["--frames", "4", "--working-size", "32", "-q"]
HELD = ("ok", "error", "interrupted")
FAILURE_ORDER = ("hang", "memory", "lost", "escape", "traceback", "lie", "wrong-exit", "not-one-line", "leftover")
INFO_LINES = ("training on ", "resuming", "saved ", "wrote ")  # stderr lines a failing run may print before its error
GIB = 1 << 30


# ----------------------------------------------------------------------------- images, checkpoints

sys.path.insert(0, str(ROOT / "tests"))
from conftest import blob_image as _blob_image  # noqa: E402  (the tests' smooth image; the dev extra has pytest)


def blob_image(height=24, width=32, shift=(0.0, 0.0), seed=0) -> np.ndarray:
    """The tests' smooth test image, 32x24 unless told (the probes' size)."""
    return _blob_image(height, width, shift=shift, seed=seed)


def digest(record: dict) -> str:
    """img2gif.checkpoint.digest, re-implemented to hash huge (stride-0) tensors in bounded memory.

    Checked against the real function on a real pair at start-up (see ``Fixtures``)."""
    h = hashlib.sha256()

    def feed(obj):
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            if t.numel():
                if t.dim() == 0:
                    h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
                else:
                    row = max(1, t[0].numel() * t.element_size())
                    step = max(1, (64 << 20) // row)
                    for i in range(0, t.shape[0], step):
                        h.update(t[i:i + step].contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(obj, dict):
            h.update(b"{")
            for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
                if obj is record and k == "digest":
                    continue
                h.update(repr(k).encode() + b":")
                feed(obj[k])
            h.update(b"}")
        elif isinstance(obj, (list, tuple)):
            h.update(b"[")
            for v in obj:
                feed(v)
            h.update(b"]")
        else:
            h.update(repr(obj).encode())
        h.update(b";")

    feed(record)
    return h.hexdigest()


def load_record(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def save_record(record: dict, path, with_digest=True) -> None:
    record = dict(record)
    if with_digest:
        record["digest"] = digest(record)
    torch.save(record, path)


def big_canvas_gif(width: int, height: int, frames: int) -> bytes:
    """A GIF written by hand: a width x height logical screen, ``frames`` 1x1 frames on it."""
    out = bytearray(b"GIF89a" + struct.pack("<HH", width, height) + bytes([0xF0, 0, 0]) + bytes([0, 0, 0, 255, 255, 255]))
    out += b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00"
    for i in range(frames):
        out += b"\x21\xF9\x04\x04" + struct.pack("<H", 2) + b"\x00\x00"  # disposal 1, 20 ms
        x, y = (i * 37) % max(1, width - 1), (i * 91) % max(1, height - 1)
        out += b"\x2C" + struct.pack("<HHHH", x, y, 1, 1) + b"\x00"
        code = 4 | ((i % 2) << 3) | (5 << 6)  # clear, pixel, end: 3-bit LZW codes
        out += b"\x02\x02" + bytes([code & 0xFF, code >> 8]) + b"\x00"
    return bytes(out + b";")


def zip_bomb_checkpoint(source: Path, dest: Path, target: str, inflated: int) -> None:
    """Copy torch zip ``source`` to ``dest`` with entry ``target`` (a suffix) deflated from ``inflated`` zero bytes."""
    zero = bytes(64 << 20)
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(target):
                zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                zi.compress_type = zipfile.ZIP_DEFLATED
                zi._compresslevel = 1  # noqa: SLF001  (ZipInfo has no public knob)
                with zout.open(zi, "w", force_zip64=True) as f:
                    f.write(data)
                    left = inflated - len(data)
                    while left > 0:
                        f.write(zero[:min(left, len(zero))])
                        left -= len(zero)
            else:
                zout.writestr(info, data)


def anim_info(path: Path) -> dict:
    """Decode an animation independently of img2gif: format, frames, size, seconds, mean brightness."""
    path = Path(path)
    head = path.read_bytes()[:16]
    if path.suffix.lower() == ".mp4":
        if head[4:8] != b"ftyp":
            raise ValueError("not an MP4 (no ftyp box)")
        import imageio_ffmpeg

        gen = imageio_ffmpeg.read_frames(str(path))
        meta = next(gen)
        n, mean = 0, None
        for fr in gen:
            if mean is None:
                w, h = meta["size"]
                mean = float(np.frombuffer(fr, np.uint8).mean())
            n += 1
        if n == 0:
            raise ValueError("MP4 holds no frames")
        return {"format": "MP4", "frames": n, "size": tuple(meta["size"]), "seconds": n / meta["fps"], "fps": meta["fps"], "mean": mean}
    with Image.open(path) as im:
        fmt = im.format
        size = im.size
        n, seconds, mean = 0, 0.0, None
        for fr in ImageSequence.Iterator(im):
            if mean is None:
                mean = float(np.asarray(fr.convert("RGB")).mean())
            n += 1
            d = fr.info.get("duration")
            if d is None or seconds is None:
                seconds = None  # Pillow 13 does not report WebP frame durations: unknown, not zero
            else:
                seconds += d / 1000.0
    want = {".gif": "GIF", ".webp": "WEBP", ".png": "PNG", ".apng": "PNG"}.get(path.suffix.lower())
    if want and fmt != want:
        raise ValueError(f"{path.name} holds {fmt} data")
    return {"format": fmt, "frames": n, "size": size, "seconds": seconds, "mean": mean}


WROTE = re.compile(r"wrote (.+?): (\d+) frames, (\d+)x(\d+), ([0-9.e+-]+) fps(?:, ([0-9.]+) s)?")


# ----------------------------------------------------------------------------- probe records

@dataclass
class Run:
    args: list                       # after "python -m img2gif"
    expect: str = "error"            # "ok", "error", "ok|error", "interrupted"
    env: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)   # fnmatch patterns (relative) a successful run may create/replace
    protect: list = field(default_factory=list)   # patterns that must never change, even on success
    ignore: list = field(default_factory=list)    # patterns whose changes are not looked at (a probe's own cache)
    check: Callable | None = None    # (ctx, result) -> [(kind, detail)] for a run that exited 0
    anim: str | None = None          # output animation to validate on exit 0 (relative path)
    timeout: float = 120.0
    mem_gb: float | None = 8.0       # RLIMIT_AS of the child
    stdout: str = "pipe"             # pipe | devfull | closedpipe
    stderr: str = "pipe"             # pipe | closedpipe | closed
    signal: tuple | None = None      # (signum, trigger): trigger = seconds | ("temp", dir) | ("text", substring)
    #                                  | ("proc", pred): pred(pid, argv) true of a process in the run's session (an ffmpeg child)
    cwd: str | None = None           # folder (relative) the command runs in; default the probe's folder
    verify: Callable | None = None   # (ctx, result) -> [(kind, detail)] whatever the exit (not after a timeout)
    max_gb: float | None = None      # peak resident memory of the whole process tree (img2gif + ffmpeg), sampled


@dataclass
class Probe:
    cls: int
    name: str
    setup: Callable                  # (ctx) -> Run


class Skip(Exception):
    pass


@dataclass
class Result:
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    signalled: bool = False
    peak_gb: float | None = None     # sampled peak RSS of the session (only where Run.max_gb is set)


# ----------------------------------------------------------------------------- per-probe context

class Ctx:
    def __init__(self, work: Path, fx: "Fixtures", harness: "Harness"):
        self.w, self.fx, self.h = work, fx, harness
        self.mounts: list[Path] = []

    def p(self, rel) -> Path:
        return self.w / rel

    def img(self, name="a.png", h=24, w=32, shift=(0.0, 0.0), seed=0, **save) -> str:
        path = self.p(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(blob_image(h, w, shift, seed)).save(path, **save)
        return name

    def ab(self, h=24, w=32):
        return self.img("a.png", h, w), self.img("b.png", h, w, shift=(3.0, 2.0))

    def write(self, name, data: bytes) -> str:
        self.p(name).parent.mkdir(parents=True, exist_ok=True)
        self.p(name).write_bytes(data)
        return name

    def prev(self, name) -> str:
        return self.write(name, PREV)

    def copy(self, src: Path, name) -> str:
        self.p(name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, self.p(name))
        return name

    def pair(self, name="pair.pt") -> str:
        return self.copy(self.fx.pair, name)

    def pair_record(self) -> dict:
        return load_record(self.fx.pair)

    def model_record(self) -> dict:
        return load_record(self.fx.digits)

    def save(self, record, name, with_digest=True) -> str:
        save_record(record, self.p(name), with_digest)
        return name

    def data(self, name="D", n=8, size=16, paired_names=True) -> str:
        for side, off in (("start", 0), ("end", 10)):
            (self.p(name) / side).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                stem = f"img{i}" if paired_names else f"{side}{i}"
                Image.fromarray(blob_image(size, size, seed=i + off)).save(self.p(name) / side / f"{stem}.png")
        return name

    def tmpfs(self, name="full", size_kb=200, free_kb=0, files=None) -> str:
        """A tmpfs at ``name``, holding ``files`` (rel -> bytes), then filled to ``free_kb`` free."""
        if not self.h.can_mount:
            raise Skip("cannot mount tmpfs (not root?)")
        mnt = self.p(name)
        mnt.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mnt)], capture_output=True, text=True)
        if r.returncode:
            raise Skip(f"mount failed: {r.stderr.strip()}")
        self.mounts.append(mnt)
        for rel, data in (files or {}).items():
            (mnt / rel).parent.mkdir(parents=True, exist_ok=True)
            (mnt / rel).write_bytes(data)
        fill_to(mnt / "filler", free_kb * 1024)
        return name

    def readonly(self, name) -> str:
        """Remount the tmpfs at ``name`` read-only (chmod does not stop root)."""
        r = subprocess.run(["mount", "-o", "remount,ro", str(self.p(name))], capture_output=True, text=True)
        if r.returncode:
            raise Skip(f"remount ro failed: {r.stderr.strip()}")
        return name

    def run_setup(self, args, env=None, timeout=120):
        """Run img2gif as part of a probe's setup; Skip if that fails."""
        r = self.h.execute(Run(args, env=env or {}, timeout=timeout), self)
        if r.rc != 0:
            raise Skip(f"setup command failed (rc {r.rc}): {last_line(r.stderr)}")
        return r

    def unmount(self):
        for mnt in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        self.mounts.clear()


def fill_to(path: Path, free_bytes: int) -> None:
    st = os.statvfs(path.parent)
    avail = st.f_bavail * st.f_frsize
    try:
        with open(path, "wb") as f:
            if avail - free_bytes > 0:
                f.write(bytes(avail - free_bytes))
                f.flush()
            if free_bytes == 0:
                while True:
                    f.write(bytes(512))
                    f.flush()
    except OSError:
        pass


def last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


# ----------------------------------------------------------------------------- shared fixtures

class Fixtures:
    """Built once per run: a fitted pair, the shipped digits model, a tiny trained model."""

    def __init__(self, root: Path, harness: "Harness"):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.h = harness
        self.pair = root / "pair.pt"
        self.digits = root / "digits.pt"
        self.notes = []
        src = Path(harness.src) / "img2gif" / "pretrained" / "digits.pt"
        if not src.is_file():
            src = ROOT / "img2gif" / "pretrained" / "digits.pt"
        shutil.copyfile(src, self.digits)
        Image.fromarray(blob_image()).save(root / "a.png")
        Image.fromarray(blob_image(shift=(3.0, 2.0))).save(root / "b.png")
        r = harness.raw(["fit-pair", "a.png", "b.png", "-o", "pair.pt", "--working-size", "32", "-q"], cwd=root)
        if r.rc != 0 or not self.pair.is_file():
            raise SystemExit(f"cannot build the fixture pair (rc {r.rc}): {last_line(r.stderr) or last_line(r.stdout)}")
        rec = load_record(self.pair)
        ok = rec.get("digest") == digest(rec)
        self.notes.append(f"re-implemented digest matches the saved one: {ok}")
        try:
            sys.path.insert(0, str(harness.src))
            from img2gif.checkpoint import digest as real_digest  # noqa: PLC0415
            self.notes.append(f"img2gif.checkpoint.digest exists and agrees: {real_digest(rec) == digest(rec)}")
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"img2gif.checkpoint.digest not importable here: {exc!r}")
        finally:
            sys.path.pop(0)
        if not ok:
            print("WARNING: digest re-implementation disagrees; crafted 'digest-valid' files are not", file=sys.stderr)

    def cached(self, name: str, build: Callable[[Path], None]) -> Path:
        path = self.root / name
        if not path.exists():
            build(path)
        return path


# ----------------------------------------------------------------------------- harness

def snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                try:
                    with open(p, "rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            h.update(chunk)
                except OSError:
                    pass
                out[rel] = ("file", h.hexdigest(), st.st_size)
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode))
    return out


def matches(rel: str, patterns) -> bool:
    return any(rel == pat or fnmatch.fnmatch(rel, pat) for pat in patterns)


def is_temp(rel: str) -> bool:
    if rel.startswith(os.path.join(".tmp", "torchinductor_")):
        return False  # torch's own compile cache in TMPDIR, not img2gif's
    base = os.path.basename(rel)
    if base == ".img2gif-frames":
        return False  # the marker a frames folder keeps (README: the frames-folder rule), not a temp file
    return rel.startswith(".tmp" + os.sep) or (base.startswith(".") and (".part" in base or base.startswith(".img2gif")))


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def session_procs(sid: int):
    """(pid, rss bytes, argv) of every live process in session ``sid`` (the run and its ffmpeg children)."""
    page = os.sysconf("SC_PAGE_SIZE")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:
                continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            yield int(d), int(fields[21]) * page, argv
        except (OSError, IndexError, ValueError):
            continue


class Harness:
    def __init__(self, src: Path, keep: bool):
        self.src = src
        self.keep = keep
        self.base = Path(tempfile.mkdtemp(prefix="img2gif-probes-"))
        self.cache = self.base / "cache"
        self.cache.mkdir()
        self.can_mount = os.geteuid() == 0 and shutil.which("mount") is not None
        if self.can_mount:
            test = self.base / "mnt-test"
            test.mkdir()
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(test)], capture_output=True)
            self.can_mount = r.returncode == 0
            if self.can_mount:
                subprocess.run(["umount", str(test)], capture_output=True)

    def env(self, extra: dict, work: Path | None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMG2GIF_")}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", IMG2GIF_CACHE_DIR=str(self.cache), IMG2GIF_OFFLINE="1",
                   PYTHONPATH=os.pathsep.join([str(self.src)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
                   COLUMNS="100", LC_ALL="C.UTF-8", PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONIOENCODING", None)
        if work is not None:
            env["TMPDIR"] = str(work / ".tmp")
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def raw(self, args, cwd: Path, timeout=120, env=None) -> Result:
        return self.execute(Run(args, env=env or {}, timeout=timeout), None, cwd=cwd)

    def execute(self, run: Run, ctx: Ctx | None, cwd: Path | None = None) -> Result:
        cwd = cwd or ctx.w
        env = self.env(run.env, ctx.w if ctx else None)
        closers = []
        stdout = subprocess.PIPE
        stderr = subprocess.PIPE
        if run.stdout == "devfull":
            stdout = open("/dev/full", "wb")
            closers.append(stdout)
        elif run.stdout == "closedpipe":
            r_fd, w_fd = os.pipe()
            os.close(r_fd)
            stdout = w_fd
            closers.append(w_fd)
        if run.stderr == "closedpipe":
            r_fd, w_fd = os.pipe()
            os.close(r_fd)
            stderr = w_fd
            closers.append(w_fd)
        elif run.stderr == "closed":
            stderr = subprocess.DEVNULL
        mem = run.mem_gb

        def pre():
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            if mem:
                lim = int(mem * GIB)
                resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if run.stderr == "closed":
                os.close(2)

        t0 = time.perf_counter()
        if run.cwd and ctx is not None:
            cwd = ctx.w / run.cwd
        proc = subprocess.Popen([sys.executable, "-m", "img2gif", *map(str, run.args)], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, preexec_fn=pre,
                                start_new_session=True)
        for c in closers:
            c.close() if hasattr(c, "close") else os.close(c)
        bufs = {"out": bytearray(), "err": bytearray()}

        def reader(stream, key):
            for chunk in iter(lambda: stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096), b""):
                bufs[key] += chunk

        threads = []
        for stream, key in ((proc.stdout, "out"), (proc.stderr, "err")):
            if stream is not None:
                t = threading.Thread(target=reader, args=(stream, key), daemon=True)
                t.start()
                threads.append(t)
        signalled = False
        timed_out = False
        deadline = t0 + run.timeout
        peak, sampled = 0, 0.0
        while proc.poll() is None:
            now = time.perf_counter()
            if run.max_gb and now - sampled >= 0.05:
                peak, sampled = max(peak, sum(rss for _, rss, _ in session_procs(proc.pid))), now
            if now > deadline:
                timed_out = True
                break
            if run.signal and not signalled:
                sig, trig = run.signal
                fire = False
                if isinstance(trig, (int, float)):
                    fire = now - t0 >= trig
                elif trig[0] == "temp":
                    d = cwd / trig[1]
                    try:
                        fire = any(is_temp(n) or n.startswith(".") and n != ".tmp" for n in os.listdir(d))
                    except OSError:
                        fire = False
                elif trig[0] == "text":
                    fire = trig[1].encode() in bufs["err"] or trig[1].encode() in bufs["out"]
                elif trig[0] == "proc":
                    fire = any(pid != proc.pid and trig[1](pid, argv) for pid, _, argv in session_procs(proc.pid))
                if fire:
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        pass
                    signalled = True
            time.sleep(0.01)
        if timed_out:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        # whatever the child started in its group (ffmpeg) goes too
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for t in threads:
            t.join(timeout=5)
        dec = lambda b: bytes(b).decode("utf-8", errors="replace")  # noqa: E731
        return Result(proc.returncode, dec(bufs["out"]), dec(bufs["err"]), time.perf_counter() - t0, timed_out, signalled,
                      peak / GIB if run.max_gb else None)

    # --------------------------------------------------------------------- classification

    def classify(self, run: Run, res: Result, before: dict, after: dict, ctx: Ctx) -> tuple[str, list]:
        fails: list[tuple[str, str]] = []
        text = res.stdout + res.stderr
        if res.timed_out:
            fails.append(("hang", f"still running after {run.timeout:g} s"))
        if run.max_gb and res.peak_gb is not None and res.peak_gb > run.max_gb:
            fails.append(("memory", f"peak {res.peak_gb:.2f} GiB (img2gif and its ffmpeg), over the {run.max_gb:g} GiB bound"))
        if run.verify and not res.timed_out:
            try:
                fails += run.verify(ctx, res) or []
            except Exception as exc:  # noqa: BLE001
                fails.append(("lie", f"verify: {type(exc).__name__}: {exc}"[:300]))
        m = CONTROL.search(text)
        if m:
            fails.append(("escape", f"raw control byte {m.group()!r} on the terminal: {text[max(0, m.start() - 40):m.start() + 20]!r}"))
        if "Traceback (most recent call last)" in text:
            tb = [ln for ln in text.splitlines() if ln.strip()]
            fails.append(("traceback", tb[-1][:200] if tb else "traceback"))
        ok_exit = res.rc == 0
        success = ok_exit and "ok" in run.expect.split("|")
        # a frames folder img2gif writes holds its marker (README: the frames-folder rule)
        outputs = list(run.outputs) + [os.path.join(os.path.dirname(p), ".img2gif-frames") for p in run.outputs if "frame_" in p]
        allowed = (lambda rel: matches(rel, outputs)) if (success or run.expect == "interrupted") else (lambda rel: False)
        lost, left = [], []
        for rel, old in before.items():
            if matches(rel, run.ignore):
                continue
            new = after.get(rel)
            if new == old:
                continue
            if matches(rel, run.protect) or not allowed(rel):
                if old[0] == "dir" and new is not None and new[0] == "dir":
                    continue
                lost.append(rel + (" (gone)" if new is None else " (changed)"))
        for rel in after:
            if rel in before or matches(rel, run.ignore):
                continue
            if rel.startswith(os.path.join(".tmp", "torchinductor_")):
                continue
            if is_temp(rel) or not allowed(rel):
                left.append(rel)
        if ok_exit and lost:
            # a run that should have failed but exited 0 and replaced the *previous output* (PREV bytes)
            # with a readable file accepted a bad input (wrong-exit below); an unreadable one is a lie
            keep = []
            for item in lost:
                rel = item.rsplit(" (", 1)[0]
                old = before.get(rel)
                was_prev = old is not None and old[0] == "file" and old[1] == hashlib.sha256(PREV).hexdigest()
                if was_prev and rel in after:
                    try:
                        anim_info(ctx.p(rel)) if Path(rel).suffix.lower() in (".gif", ".mp4", ".webp", ".png", ".apng") else None
                        continue
                    except Exception as exc:  # noqa: BLE001
                        fails.append(("lie", f"exit 0 but {rel} (the previous file) was replaced by an unreadable one: {exc}"[:300]))
                keep.append(item)
            lost = keep
        if lost:
            fails.append(("lost", ", ".join(sorted(lost))[:300]))
        if left:
            fails.append(("leftover", ", ".join(sorted(left))[:300]))
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        err_lines = [ln for ln in lines if ln.startswith("error:")]
        one_line = len(err_lines) == 1 and lines and lines[-1].startswith("error:") and all(
            ln.startswith("error:") or ln.startswith(INFO_LINES) for ln in lines)
        outcome = None
        if res.timed_out:
            pass
        elif run.expect == "interrupted":
            if res.rc == 0 and not res.signalled:
                outcome = "skipped"
                fails = [f for f in fails if f[0] not in ("leftover",)]
                ctx_detail = "finished before the signal was sent"
                return "skipped", [("skipped", ctx_detail)]
            if res.rc == 0:
                fails.append(("wrong-exit", "exit 0 after the signal (did it finish anyway?)"))
            noise = [ln for ln in lines if not ln.startswith(INFO_LINES) and not ln.startswith("interrupted")]
            if noise and not any(f[0] == "traceback" for f in fails):
                fails.append(("not-one-line", f"{len(noise)} unexpected stderr line(s): {noise[-1][:160]}"))
            outcome = "interrupted"
        elif res.rc == 2 and "error" in run.expect.split("|"):
            unreadable = run.stderr == "closedpipe"  # nobody can read the line: exit 2 is what is left
            if not one_line and not unreadable and not any(f[0] == "traceback" for f in fails):
                fails.append(("not-one-line", f"{len(lines)} stderr lines, {len(err_lines)} 'error:': {last_line(res.stderr)[:160]}"))
            outcome = "error"
        elif ok_exit and "ok" in run.expect.split("|"):
            outcome = "ok"
            try:
                if run.anim:
                    fails += self.check_anim(ctx, run.anim, res)
                if run.check:
                    fails += run.check(ctx, res) or []
            except Exception as exc:  # noqa: BLE001
                fails.append(("lie", f"post-check: {type(exc).__name__}: {exc}"[:300]))
        elif ok_exit:
            fails.append(("wrong-exit", "exit 0 on a bad input (expected a one-line error, exit 2)"))
        elif res.rc == 2:
            fails.append(("wrong-exit", f"refused a good input: {last_line(res.stderr)[:200]}"))
        else:
            how = f"killed by {signal.Signals(-res.rc).name}" if res.rc is not None and res.rc < 0 else f"exit {res.rc}"
            fails.append(("wrong-exit", f"{how}: {last_line(res.stderr)[:200]}"))
        if fails:
            fails.sort(key=lambda f: FAILURE_ORDER.index(f[0]) if f[0] in FAILURE_ORDER else 99)
            return fails[0][0], fails
        return outcome, []

    def check_anim(self, ctx: Ctx, rel: str, res: Result) -> list:
        path = ctx.p(rel)
        if not path.is_file() or path.stat().st_size == 0:
            return [("lie", f"exit 0 but {rel} is missing or empty")]
        try:
            info = anim_info(path)
        except Exception as exc:  # noqa: BLE001
            return [("lie", f"exit 0 but {rel} is unreadable: {exc}"[:300])]
        fails = []
        m = WROTE.search(re.sub(r"\s*\n\s*", " ", res.stderr + res.stdout))  # rich wraps long lines
        if m:
            frames, w, h = int(m.group(2)), int(m.group(3)), int(m.group(4))
            if (w, h) != tuple(info["size"]):
                fails.append(("lie", f"'wrote' says {w}x{h}, the file is {info['size'][0]}x{info['size'][1]}"))
            if m.group(6) is not None and info["seconds"] is not None:
                said = float(m.group(6))
                if abs(said - info["seconds"]) > max(0.03, 0.03 * said):
                    fails.append(("lie", f"'wrote' says {said:.2f} s, the file plays {info['seconds']:.3f} s ({info['frames']} frames)"))
            if info["format"] != "MP4" and frames != info["frames"]:
                fails.append(("lie", f"'wrote' says {frames} frames, the file holds {info['frames']}"))
        return fails


# ----------------------------------------------------------------------------- helpers for checks

def expect_frames(folder: str, count: int):
    def check(c: Ctx, r: Result):
        names = sorted(os.listdir(c.p(folder)))
        frames = [n for n in names if re.fullmatch(r"frame_\d+\.png", n)]
        fails = []
        if len(frames) != count:
            fails.append(("leftover", f"{folder} holds {len(frames)} frame files after a {count}-frame run: {frames[:8]}"))
        for n in frames[:count]:
            with Image.open(c.p(folder) / n) as im:
                im.load()
        return fails
    return check


def expect_checkpoint(rel: str, kind="img2gif.pair", **fields):
    def check(c: Ctx, r: Result):
        try:
            rec = load_record(c.p(rel))
        except Exception as exc:  # noqa: BLE001
            return [("lie", f"exit 0 but {rel} does not load: {exc}"[:300])]
        if rec.get("format") != kind:
            return [("lie", f"{rel} is {rec.get('format')!r}, expected {kind}")]
        bad = [f"{k}={rec.get(k)!r} (want {v!r})" for k, v in fields.items() if rec.get(k) != v]
        return [("lie", f"{rel}: " + ", ".join(bad))] if bad else []
    return check


def expect_png(rel: str):
    def check(c: Ctx, r: Result):
        path = c.p(rel)
        if not path.is_file():
            return [("lie", f"exit 0 but {rel} was not written")]
        with Image.open(path) as im:
            im.load()
            if im.format != "PNG":
                return [("lie", f"{rel} holds {im.format} data")]
        return []
    return check


def expect_brightness(rel: str, target: float, tol=0.35):
    def check(c: Ctx, r: Result):
        info = anim_info(c.p(rel))
        if abs(info["mean"] - target) > tol * max(target, 1):
            return [("lie", f"output mean brightness {info['mean']:.1f}, the input's is {target:.1f} (black/washed-out output)")]
        return []
    return check


def stdout_has(text: str, kind="lie"):
    def check(c: Ctx, r: Result):
        return [] if text in r.stdout else [(kind, f"stdout does not mention {text!r}")]
    return check


# ----------------------------------------------------------------------------- the probes

PROBES: list[Probe] = []
FIXTURES: "Fixtures | None" = None


def probe(cls: int, name: str):
    def deco(fn):
        PROBES.append(Probe(cls, name, fn))
        return fn
    return deco


def P(cls, name, fn):
    PROBES.append(Probe(cls, name, fn))


MAXPIX = {"IMG2GIF_MAX_PIXELS": str(10 ** 9)}


def _animate_to(c: Ctx, out: str, extra=(), h=24, w=32, env=None, expect="ok", **kw) -> Run:
    c.img("in/a.png", h, w)
    c.img("in/b.png", h, w, shift=(3.0, 2.0))
    return Run(["animate", "in/a.png", "in/b.png", "-o", out, *FAST, *extra], expect=expect, env=env or {},
               outputs=[out.rstrip("/")], anim=None if expect == "error" or out.endswith("/") else out, **kw)


def _noise(c: Ctx, name, h, w, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(c.p(name))
    return name


# 1. encoder failures must not report success or replace the previous file
for ext in ("mp4", "gif", "webp", "png"):
    def _full(c, ext=ext):
        c.ab()
        c.tmpfs("full", 200, 0, files={f"out.{ext}": PREV})
        return Run(["animate", "a.png", "b.png", "-o", f"full/out.{ext}", *FAST])
    P(1, f"{ext} on a full tmpfs, previous file kept", _full)

for ext in ("mp4", "gif"):
    def _nearly(c, ext=ext):
        c.p("in").mkdir()
        _noise(c, "in/a.png", 96, 128, 1)
        _noise(c, "in/b.png", 96, 128, 2)
        c.tmpfs("full", 200, 24, files={f"out.{ext}": PREV})
        return Run(["animate", "in/a.png", "in/b.png", "-o", f"full/out.{ext}", "--frames", "30", "--working-size", "32", "-q"])
    P(1, f"{ext} on a nearly full tmpfs (24 KB free, noisy 128x96 x30 frames)", _nearly)

for fps, ext in (("1e-300", "mp4"), ("1e300", "mp4"), ("1e-300", "gif"), ("1e-300", "webp"), ("1e-300", "png")):
    def _fps(c, fps=fps, ext=ext):
        c.ab()
        c.prev(f"out.{ext}")
        return Run(["animate", "a.png", "b.png", "-o", f"out.{ext}", "--fps", fps, *FAST], expect="ok|error",
                   outputs=[f"out.{ext}"], anim=f"out.{ext}")
    P(1, f"--fps {fps} to {ext}, previous file kept unless a correct file replaces it", _fps)

for (w, h), ext in (((40000, 4), "mp4"), ((20000, 2), "mp4"), ((40000, 4), "webp"), ((40000, 4), "gif"), ((4, 40000), "mp4"), ((20000, 2), "png")):
    def _wide(c, w=w, h=h, ext=ext):
        c.p("in").mkdir()
        _noise(c, "in/a.png", h, w, 1)
        _noise(c, "in/b.png", h, w, 2)
        c.prev(f"out.{ext}")
        return Run(["animate", "in/a.png", "in/b.png", "-o", f"out.{ext}", *FAST], expect="ok|error", env=MAXPIX,
                   outputs=[f"out.{ext}"], anim=f"out.{ext}")
    P(1, f"{w}x{h} image to {ext} (IMG2GIF_MAX_PIXELS=1e9), previous kept on failure", _wide)


# 2. inspect --plot must not overwrite an input or write a lie
def _plot(target, expect="error", setup=None, check=None):
    def fn(c: Ctx):
        c.pair()
        if setup:
            setup(c)
        return Run(["inspect", "pair.pt", "--plot", target], expect=expect, outputs=[target.rstrip("/")],
                   check=check)
    return fn


P(2, "--plot pair.pt (the input itself)", _plot("pair.pt"))
P(2, "--plot ./pair.pt", _plot("./pair.pt"))
P(2, "--plot via a symlink to pair.pt", _plot("link.png", setup=lambda c: os.symlink("pair.pt", c.p("link.png"))))
P(2, "--plot via a hard link to pair.pt", _plot("hard.png", setup=lambda c: os.link(c.p("pair.pt"), c.p("hard.png"))))
P(2, "--plot x.gif (not a PNG name)", _plot("x.gif", expect="ok|error", check=expect_png("x.gif")))
P(2, "--plot noext", _plot("noext", expect="ok|error", check=expect_png("noext")))
P(2, "--plot missing-dir/", _plot("missing-dir/"))
P(2, "--plot existing dir/", _plot("dir/", setup=lambda c: c.p("dir").mkdir()))
P(2, "--plot into a missing folder", _plot("nowhere/p.png"))
P(2, "--plot p.png replacing a previous p.png", _plot("p.png", expect="ok", setup=lambda c: c.prev("p.png"), check=expect_png("p.png")))
P(2, "--plot on a model (not a pair)", lambda c: Run(["inspect", c.copy(c.fx.digits, "m.pt"), "--plot", "p.png"]))


def _plot_full(c):
    c.pair()
    c.tmpfs("full", 200, 0, files={"p.png": PREV})
    return Run(["inspect", "pair.pt", "--plot", "full/p.png"])


P(2, "--plot on a full tmpfs, previous p.png kept", _plot_full)


# 3. output equal to an input
def _same(args_fn, expect="error"):
    def fn(c: Ctx):
        c.ab()
        args = args_fn(c)
        return Run(args, expect=expect)
    return fn


P(3, "animate a.png b.png -o a.png", _same(lambda c: ["animate", "a.png", "b.png", "-o", "a.png", *FAST]))
P(3, "animate a.png b.png -o ./a.png", _same(lambda c: ["animate", "a.png", "b.png", "-o", "./a.png", *FAST]))
P(3, "animate a.png b.png -o b.png", _same(lambda c: ["animate", "a.png", "b.png", "-o", "b.png", *FAST]))
P(3, "animate -o <absolute path of a.png>", _same(lambda c: ["animate", "a.png", "b.png", "-o", str(c.p("a.png")), *FAST]))
P(3, "animate -o sub/../a.png", _same(lambda c: (c.p("sub").mkdir(), ["animate", "a.png", "b.png", "-o", "sub/../a.png", *FAST])[1]))
P(3, "animate -o symlink to a.png", _same(lambda c: (os.symlink("a.png", c.p("link.png")), ["animate", "a.png", "b.png", "-o", "link.png", *FAST])[1]))
P(3, "animate -o hard link to a.png", _same(lambda c: (os.link(c.p("a.png"), c.p("hard.png")), ["animate", "a.png", "b.png", "-o", "hard.png", *FAST])[1]))
P(3, "animate a.gif b.png -o a.gif (GIF input)", _same(lambda c: (c.img("a.gif"), ["animate", "a.gif", "b.png", "-o", "a.gif", *FAST])[1]))
P(3, "animate a.png a.png -o a.png", _same(lambda c: ["animate", "a.png", "a.png", "-o", "a.png", *FAST]))
P(3, "animate a.png --model digits -o a.png", _same(lambda c: ["animate", "a.png", "--model", "digits", "-o", "a.png", "--frames", "4", "-q"]))
P(3, "reverse in.png --model digits -o in.png", _same(lambda c: (c.img("in.png"), ["reverse", "in.png", "--model", "digits", "-o", "in.png", "--frames", "4"])[1]))
P(3, "fit-pair a.png b.png -o a.png", _same(lambda c: ["fit-pair", "a.png", "b.png", "-o", "a.png", "--working-size", "32", "-q"]))
P(3, "fit-pair a.png b.png -o b.png via symlink", _same(lambda c: (os.symlink("b.png", c.p("l.pt")), ["fit-pair", "a.png", "b.png", "-o", "l.pt", "--working-size", "32", "-q"])[1]))
P(3, "animate --from pair.pt --model pair.pt -o pair.pt-ish: -o same .pt", _same(lambda c: (c.pair(), ["animate", "--from", "pair.pt", "-o", "pair.pt", "--frames", "4", "-q"])[1]))
P(3, "train -o a start image", lambda c: (c.data(), Run(["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "D/start/img0.png", "-q"]))[1])
P(3, "train --resume -o a start image", lambda c: (c.data(), Run(["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "D/start/img0.png", "--resume", "-q"]))[1])


# 4. frame-folder output
def _frames_user_file(c):
    c.ab()
    c.write("out/frame_0001.png", b"the user's own frame_0001.png")
    return Run(["animate", "a.png", "b.png", "-o", "out/", *FAST], expect="ok|error", outputs=["out/frame_*.png"],
               protect=["out/frame_0001.png"])


P(4, "-o existing_dir/ holding a user's frame_0001.png", _frames_user_file)


def _frames_other(c):
    c.ab()
    c.write("out/notes.txt", b"keep me")
    return Run(["animate", "a.png", "b.png", "-o", "out/", *FAST], expect="ok|error", outputs=["out/frame_*.png"],
               check=expect_frames("out", 4))


P(4, "-o existing_dir/ holding notes.txt", _frames_other)


def _frames_rerun(c):
    c.ab()
    c.run_setup(["animate", "a.png", "b.png", "-o", "out/", "--frames", "7", "--working-size", "32", "-q"])
    return Run(["animate", "a.png", "b.png", "-o", "out/", *FAST], expect="ok|error", outputs=["out/frame_*.png"],
               check=expect_frames("out", 4))


P(4, "shorter rerun (7 then 4 frames) into the same folder", _frames_rerun)
P(4, "-o file/ where file is a regular file", lambda c: (c.ab(), c.prev("file"), Run(["animate", "a.png", "b.png", "-o", "file/", *FAST]))[-1])
P(4, "-o out.gif/ where out.gif is a file", lambda c: (c.ab(), c.prev("out.gif"), Run(["animate", "a.png", "b.png", "-o", "out.gif/", *FAST]))[-1])
P(4, "-o new_dir/ (fresh)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "new/", *FAST], expect="ok", outputs=["new", "new/frame_*.png"], check=expect_frames("new", 4)))[-1])
P(4, "-o missing/nested/ (parent missing)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "missing/nested/", *FAST], expect="ok|error", outputs=["missing", "missing/nested", "missing/nested/frame_*.png"], check=expect_frames("missing/nested", 4)))[-1])
P(4, "-o dir/ where dir/frame_0000.png is a directory", lambda c: (c.ab(), c.p("out/frame_0000.png").mkdir(parents=True), Run(["animate", "a.png", "b.png", "-o", "out/", *FAST]))[-1])
P(4, "-o dir/ where dir/frame_0000.png is a symlink to the input a.png", lambda c: (c.ab(), c.p("out").mkdir(), os.symlink("../a.png", c.p("out/frame_0000.png")), Run(["animate", "a.png", "b.png", "-o", "out/", *FAST], expect="ok|error", outputs=["out/frame_*.png"], protect=["a.png"]))[-1])
P(4, "reverse -o dir/ holding a user's frame_0002.png", lambda c: (c.img("in.png"), c.write("out/frame_0002.png", b"mine"), Run(["reverse", "in.png", "--model", "digits", "-o", "out/", "--frames", "4"], expect="ok|error", outputs=["out/frame_*.png"], protect=["out/frame_0002.png"]))[-1])


# 5. crafted checkpoints that allocate huge memory (4 GB address-space cap)
MEM = dict(mem_gb=4.0, timeout=90)


def _crafted_pair(edit, command="animate", with_digest=True, name="x.pt"):
    def fn(c: Ctx):
        rec = c.pair_record()
        edit(rec)
        c.save(rec, name, with_digest)
        if command == "animate":
            c.prev("out.gif")
            return Run(["animate", "--from", name, "-o", "out.gif", "--frames", "4", "-q"], **MEM)
        return Run(["inspect", name], expect="ok|error", **MEM)
    return fn


def _crafted_model(edit, command="animate", with_digest=True):
    def fn(c: Ctx):
        rec = c.model_record()
        edit(rec)
        c.save(rec, "m.pt", with_digest)
        c.img("a.png")
        if command == "animate":
            c.prev("out.gif")
            return Run(["animate", "a.png", "--model", "m.pt", "-o", "out.gif", "--frames", "4", "-q"], **MEM)
        return Run(["inspect", "m.pt"], expect="ok|error", **MEM)
    return fn


def _svf_size(rec):
    rec["velocity"]["config"]["size"] = [30000, 30000]


def _svf_levels(rec):
    rec["velocity"]["config"]["levels"] = 100000


def _unet_width(rec):
    rec["velocity"]["config"]["width"] = 20000


def _unet_depth(rec):
    rec["velocity"]["config"]["depth"] = 60


P(5, "pair: svf size 30000x30000 -> animate --from", _crafted_pair(_svf_size))
P(5, "pair: svf size 30000x30000 -> inspect", _crafted_pair(_svf_size, "inspect"))
P(5, "pair: svf levels 100000 -> animate --from", _crafted_pair(_svf_levels))
P(5, "model: unet width 20000 -> animate --model", _crafted_model(_unet_width))
P(5, "model: unet width 20000 -> inspect", _crafted_model(_unet_width, "inspect"))
P(5, "model: unet depth 60 -> animate --model", _crafted_model(_unet_depth))
P(5, "pair: image_size 60000x60000 -> animate --from", _crafted_pair(lambda r: r.update(image_size=[60000, 60000])))
P(5, "pair: working_shape 60000x60000 -> animate --from", _crafted_pair(lambda r: r.update(working_shape=[60000, 60000])))
P(5, "model: image_size 60000 -> animate --model", _crafted_model(lambda r: r.update(image_size=60000)))


def _expanded(side):
    def edit(rec):
        big = torch.zeros(1, 1, 3, dtype=torch.uint8).expand(side, side, 3)
        rec["images"] = {"a": big, "b": big}
        rec["image_size"] = [side, side]
    return edit


def _expanded_pair(with_digest, command):
    def build(path):
        rec = load_record(FIXTURES.pair)
        _expanded(40000)(rec)
        save_record(rec, path, with_digest)

    def fn(c: Ctx):
        src = c.fx.cached(f"expanded-{with_digest}.pt", build)
        c.copy(src, "x.pt")
        if command == "animate":
            c.prev("out.gif")
            return Run(["animate", "--from", "x.pt", "-o", "out.gif", "--frames", "4", "-q"], **MEM)
        return Run(["inspect", "x.pt"], expect="ok|error", **MEM)
    return fn


P(5, "pair: stride-0 40000x40000 images, digest valid -> animate --from", _expanded_pair(True, "animate"))
P(5, "pair: stride-0 40000x40000 images, digest valid -> inspect", _expanded_pair(True, "inspect"))
P(5, "pair: stride-0 40000x40000 images, no digest -> animate --from", _expanded_pair(False, "animate"))
P(5, "pair: stride-0 expanded svf grid 1x2x30000x30000 (size config to match)", _crafted_pair(
    lambda r: (r["velocity"]["config"].update(size=[30000, 30000], levels=1),
               r.update(state_dict={"grids.0": torch.zeros(1, 2, 1, 1).expand(1, 2, 30000, 30000)})), with_digest=False))


def _bomb(target, inflated):
    def fn(c: Ctx):
        name = f"bomb-{target.replace('/', '_')}.pt"
        src = c.fx.cached(name, lambda p: zip_bomb_checkpoint(FIXTURES.pair, p, target, inflated))
        c.copy(src, "bomb.pt")
        c.prev("out.gif")
        return Run(["animate", "--from", "bomb.pt", "-o", "out.gif", "--frames", "4", "-q"], **MEM)
    return fn


P(5, "zip entry data.pkl inflating to 5 GB -> animate --from", _bomb("data.pkl", 5 * GIB))
P(5, "zip tensor storage data/0 inflating to 5 GB -> animate --from", _bomb("data/0", 5 * GIB))


def _bomb_inspect(c):
    src = c.fx.cached("bomb-data_0.pt", lambda p: zip_bomb_checkpoint(FIXTURES.pair, p, "data/0", 5 * GIB))
    c.copy(src, "bomb.pt")
    return Run(["inspect", "bomb.pt"], **MEM)


P(5, "zip tensor storage inflating to 5 GB -> inspect", _bomb_inspect)


# 6. hangs (30 s bound: each job is seconds when bounded)
HANG = dict(timeout=30)


def _pair_solver(name, config):
    def edit(rec):
        rec["solver"] = {"name": name, "config": config}
    return edit


def _hang_pair(edit, what):
    def fn(c):
        rec = c.pair_record()
        edit(rec)
        c.save(rec, "x.pt")
        c.prev("out.gif")
        return Run(["animate", "--from", "x.pt", "-o", "out.gif", "--frames", "4", "-q"], expect="ok|error", anim="out.gif",
                   outputs=["out.gif"], **HANG)
    return fn


P(6, "pair solver euler step_size 1e-9", _hang_pair(_pair_solver("euler", {"step_size": 1e-9}), ""))
P(6, "pair solver rk4 step_size 1e-9", _hang_pair(_pair_solver("rk4", {"step_size": 1e-9}), ""))
P(6, "pair solver dopri5 rtol=atol=1e-30", _hang_pair(_pair_solver("dopri5", {"step_size": 0.1, "rtol": 1e-30, "atol": 1e-30}), ""))
P(6, "pair scaling-squaring steps 10**8", _hang_pair(_pair_solver("scaling-squaring", {"steps": 10 ** 8}), ""))


def _hang_model(config, name="compose"):
    def fn(c):
        rec = c.model_record()
        rec["solver"] = {"name": name, "config": config}
        c.save(rec, "m.pt")
        c.img("a.png")
        c.prev("out.gif")
        return Run(["animate", "a.png", "--model", "m.pt", "-o", "out.gif", "--frames", "4", "-q"], expect="ok|error",
                   anim="out.gif", outputs=["out.gif"], **HANG)
    return fn


P(6, "model solver compose step_size 1e-9", _hang_model({"step_size": 1e-9}))
P(6, "model solver euler step_size 1e-9", _hang_model({"step_size": 1e-9}, "euler"))


def _train(c, *extra, data="D", out="m.pt", expect="error", unpaired=True, **kw):
    if not c.p(data).exists():
        c.data(data)
    return Run(["train", "--data", data, "--unpaired" if unpaired else "--paired", "--size", "8", "--steps", "2",
                "--batch-size", "4", "-o", out, "--sample-every", "0", "-q", *extra], expect=expect,
               outputs=[out, out.rsplit(".", 1)[0] + "-samples", out.rsplit(".", 1)[0] + "-samples/*"],
               check=expect_checkpoint(out, "img2gif.model") if "ok" in expect else None, **kw)


P(6, "train --step-size 1e-9", lambda c: _train(c, "--step-size", "1e-9", expect="ok|error", **HANG))
P(6, "train --critic-iters 100000000", lambda c: _train(c, "--critic-iters", "100000000", expect="ok|error", **HANG))
P(6, "train --solver euler --step-size 1e-9", lambda c: _train(c, "--solver", "euler", "--step-size", "1e-9", expect="ok|error", **HANG))
P(6, "train --steps 10**15 --checkpoint-every 1 (bounded? just must not traceback)", lambda c: _train(c, "--steps", str(10 ** 15), expect="ok|error", **HANG))


def _canvas(w, h, n, command="inspect"):
    def fn(c):
        c.write("big.gif", big_canvas_gif(w, h, n))
        if command == "inspect":
            return Run(["inspect", "big.gif"], expect="ok|error", mem_gb=4.0, **HANG)
        c.img("b.png")
        return Run(["animate", "big.gif", "b.png", "-o", "out.gif", *FAST], expect="error", mem_gb=4.0, **HANG)
    return fn


P(6, "inspect GIF: 8000x8000 canvas, 2000 1x1 frames", _canvas(8000, 8000, 2000))
P(6, "inspect GIF: 8000x8000 canvas, 20000 1x1 frames", _canvas(8000, 8000, 20000))
P(6, "inspect GIF: 65535x65535 canvas, 3 frames", _canvas(65535, 65535, 3))
P(6, "animate from a GIF with an 8000x8000 canvas, 2000 frames", _canvas(8000, 8000, 2000, "animate"))


def _apng_many(c):
    frames = [Image.new("RGB", (2000, 2000), (k % 256, 0, 0)) for k in range(2)]
    frames[0].save(c.p("big.png"), save_all=True, append_images=frames[1:] * 200, duration=10)
    return Run(["inspect", "big.png"], expect="ok|error", mem_gb=4.0, **HANG)


P(6, "inspect APNG: 2000x2000, 401 frames", _apng_many)


# 7. digest removed / renamed / wrong
def _tampered(rec):
    rec["state_dict"]["grids.4"] = rec["state_dict"]["grids.4"] + 0.5


def _digest(edit_digest, tamper=True, command="animate"):
    def fn(c):
        rec = c.pair_record()
        if tamper:
            _tampered(rec)
        edit_digest(rec)
        torch.save(rec, c.p("x.pt"))
        if command == "inspect":
            return Run(["inspect", "x.pt"])
        c.prev("out.gif")
        return Run(["animate", "--from", "x.pt", "-o", "out.gif", "--frames", "4", "-q"])
    return fn


P(7, "tensor changed, digest removed -> animate --from", _digest(lambda r: r.pop("digest")))
P(7, "tensor changed, digest removed -> inspect", _digest(lambda r: r.pop("digest"), command="inspect"))
P(7, "untouched, digest removed (0.1.0 always writes one)", _digest(lambda r: r.pop("digest"), tamper=False))
P(7, "tensor changed, digest key renamed to 'Digest'", _digest(lambda r: r.__setitem__("Digest", r.pop("digest"))))
P(7, "tensor changed, digest key renamed to 'digest ' (trailing space)", _digest(lambda r: r.__setitem__("digest ", r.pop("digest"))))
P(7, "tensor changed, digest = None", _digest(lambda r: r.__setitem__("digest", None)))
P(7, "tensor changed, digest = ''", _digest(lambda r: r.__setitem__("digest", "")))
P(7, "digest wrong (one hex digit flipped), untouched content", _digest(lambda r: r.__setitem__("digest", ("0" if r["digest"][0] != "0" else "1") + r["digest"][1:]), tamper=False))
P(7, "digest wrong -> inspect", _digest(lambda r: r.__setitem__("digest", "0" * 64), tamper=False, command="inspect"))
P(7, "digest is an int", _digest(lambda r: r.__setitem__("digest", 12345), tamper=False))
P(7, "digest is a tensor", _digest(lambda r: r.__setitem__("digest", torch.zeros(64)), tamper=False))
P(7, "digest is a list of the right string", _digest(lambda r: r.__setitem__("digest", [r["digest"]]), tamper=False))


def _model_nodigest(c):
    rec = c.model_record()
    rec.pop("digest")
    rec["state_dict"] = {k: v * 0 for k, v in rec["state_dict"].items()}
    torch.save(rec, c.p("m.pt"))
    c.img("a.png")
    return Run(["animate", "a.png", "--model", "m.pt", "-o", "out.gif", "--frames", "4", "-q"])


P(7, "model: weights zeroed, digest removed -> animate --model", _model_nodigest)


# 8. odd image sizes in a pair, planted user models, --models listing
def _pair_images(a, b, size=None, mem=4.0, command="animate", with_digest=True):
    def fn(c):
        rec = c.pair_record()
        rec["images"] = {"a": a(), "b": b()}
        if size:
            rec["image_size"] = size
        c.save(rec, "x.pt", with_digest)
        if command == "inspect":
            return Run(["inspect", "x.pt"], expect="ok|error", mem_gb=mem)
        c.prev("out.gif")
        return Run(["animate", "--from", "x.pt", "-o", "out.gif", "--frames", "4", "-q"], mem_gb=mem, timeout=90)
    return fn


_big400 = lambda: torch.zeros(1, 1, 3, dtype=torch.uint8).expand(20000, 20000, 3)  # noqa: E731
_one = lambda: torch.full((1, 1, 3), 128, dtype=torch.uint8)  # noqa: E731
P(8, "pair holding 400-Mpx images (stride-0, digest valid) -> animate", _pair_images(_big400, _big400, [20000, 20000]))
P(8, "pair holding 1x1 images -> animate", _pair_images(_one, _one, [1, 1]))
P(8, "pair holding 1x1 images -> inspect", _pair_images(_one, _one, [1, 1], command="inspect"))
P(8, "pair images of different shapes", _pair_images(lambda: torch.zeros(24, 32, 3, dtype=torch.uint8), lambda: torch.zeros(12, 16, 3, dtype=torch.uint8)))
P(8, "pair images with 4 channels", _pair_images(lambda: torch.zeros(24, 32, 4, dtype=torch.uint8), lambda: torch.zeros(24, 32, 4, dtype=torch.uint8)))
P(8, "pair images 2-D (no channel axis)", _pair_images(lambda: torch.zeros(24, 32, dtype=torch.uint8), lambda: torch.zeros(24, 32, dtype=torch.uint8)))
P(8, "pair images float64", _pair_images(lambda: torch.rand(24, 32, 3, dtype=torch.float64), lambda: torch.rand(24, 32, 3, dtype=torch.float64)))
P(8, "pair image_size disagrees with the images", _pair_images(lambda: torch.zeros(24, 32, 3, dtype=torch.uint8), lambda: torch.zeros(24, 32, 3, dtype=torch.uint8), [640, 480]))


def _own_cache(c, name="cache"):
    p = c.p(name)
    p.mkdir(parents=True, exist_ok=True)
    return {"IMG2GIF_CACHE_DIR": str(p)}


def _shadow(c):
    env = _own_cache(c)
    smile = load_record(Path(c.fx.digits).parent / "digits.pt")
    # a model that is not the shipped digits: same architecture, weights scaled
    smile["state_dict"] = {k: (v * 3 if v.is_floating_point() else v) for k, v in smile["state_dict"].items()}
    c.p("cache/models/user").mkdir(parents=True)
    c.save(smile, "cache/models/user/digits.pt")
    c.img("a.png")
    baseline = c.w / "baseline"
    baseline.mkdir()
    shutil.copyfile(c.p("a.png"), baseline / "a.png")
    c.h.raw(["animate", "a.png", "--model", "digits", "-o", "base.gif", "--frames", "4", "-q"], cwd=baseline)

    def check(c, r):
        if not (baseline / "base.gif").is_file():
            return [("lie", "baseline run with the shipped digits failed")]
        same = (baseline / "base.gif").read_bytes() == c.p("out.gif").read_bytes()
        said = "user" in (r.stderr + r.stdout).lower()
        if not same and not said:
            return [("lie", "--model digits silently used the planted cache/models/user/digits.pt, not the shipped model")]
        return []
    return Run(["animate", "a.png", "--model", "digits", "-o", "out.gif", "--frames", "4", "-q"], expect="ok|error", env=env,
               outputs=["out.gif"], ignore=["cache", "cache/*", "baseline", "baseline/*"], anim="out.gif", check=check)


P(8, "planted <cache>/models/user/digits.pt shadows the shipped digits", _shadow)


def _models_dup(c):
    env = _own_cache(c)
    c.p("cache/models/user").mkdir(parents=True)
    c.copy(c.fx.digits, "cache/models/user/digits.pt")

    def check(c, r):
        rows = [ln for ln in r.stdout.splitlines() if re.match(r"^\W*digits\W", ln)]
        rows = [ln for ln in rows if "ignored" not in ln]  # shown, but marked as not what --model uses
        if len(rows) > 1 and "user" not in r.stdout.lower():
            return [("lie", f"'digits' listed {len(rows)} times with nothing telling them apart")]
        if len(rows) > 1:
            return [("lie", f"'digits' listed {len(rows)} times (a name --model resolves to one of them only)")]
        return []
    return Run(["inspect", "--models"], expect="ok", env=env, ignore=["cache", "cache/*"], check=check)


P(8, "inspect --models with a user model named like a shipped one (duplicates?)", _models_dup)


def _user_garbage(c):
    env = _own_cache(c)
    c.write("cache/models/user/digits.pt", b"not a checkpoint")
    c.img("a.png")
    return Run(["animate", "a.png", "--model", "digits", "-o", "out.gif", "--frames", "4", "-q"], expect="ok|error", env=env,
               outputs=["out.gif"], anim="out.gif", ignore=["cache", "cache/*"])


P(8, "garbage <cache>/models/user/digits.pt -> animate --model digits", _user_garbage)
P(8, "<cache>/models/user is a file -> inspect --models", lambda c: (lambda env: (c.write("cache/models/user", b"x"), Run(["inspect", "--models"], expect="ok|error", env=env, ignore=["cache", "cache/*"]))[1])(_own_cache(c)))


def _user_pair(c):
    env = _own_cache(c)
    c.p("cache/models/user").mkdir(parents=True)
    c.copy(c.fx.pair, "cache/models/user/mine.pt")
    c.img("a.png")
    return Run(["animate", "a.png", "--model", "mine", "-o", "out.gif", "--frames", "4", "-q"], env=env, ignore=["cache", "cache/*"])


P(8, "a pair .pt planted as user model 'mine' -> --model mine", _user_pair)


def _cached_corrupt(c):
    env = _own_cache(c)
    c.p("cache/models").mkdir(parents=True)
    data = c.fx.digits.read_bytes()
    c.write("cache/models/digits.pt", data[: len(data) // 2])
    c.img("a.png")
    return Run(["animate", "a.png", "--model", "digits", "-o", "out.gif", "--frames", "4", "-q"], expect="ok|error", env=env,
               outputs=["out.gif"], anim="out.gif", ignore=["cache", "cache/*"])


P(8, "truncated cached copy <cache>/models/digits.pt", _cached_corrupt)


# 9. terminal escapes
ESC_TITLE = "\x1b]0;pwned\x07"
ESC_CLEAR = "\x1b[2J"


P(9, "missing input named ESC]0;title BEL", lambda c: (c.img("b.png"), Run(["animate", f"{ESC_TITLE}.png", "b.png", "-o", "out.gif", *FAST]))[1])
P(9, "missing input named ESC[2J", lambda c: (c.img("b.png"), Run(["animate", f"a{ESC_CLEAR}.png", "b.png", "-o", "out.gif", *FAST]))[1])
P(9, "unreadable input named ESC[2J (garbage bytes)", lambda c: (c.img("b.png"), c.write(f"a{ESC_CLEAR}.png", b"garbage"), Run(["animate", f"a{ESC_CLEAR}.png", "b.png", "-o", "out.gif", *FAST]))[-1])
P(9, "good input named ESC]0;title BEL -> animate (wrote line)", lambda c: (c.img(f"{ESC_TITLE}.png"), c.img("b.png", shift=(3, 2)), Run(["animate", f"{ESC_TITLE}.png", "b.png", *FAST], expect="ok", outputs=["*.gif"]))[-1])
P(9, "output named ESC[2J in a missing folder", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", f"nowhere/{ESC_CLEAR}.gif", *FAST]))[-1])
P(9, "output with unknown extension holding ESC]0;", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", f"out.{ESC_TITLE}", *FAST]))[-1])
P(9, "missing input whose name holds a newline", lambda c: (c.img("b.png"), Run(["animate", "a\nerror: fake second line.png", "b.png", "-o", "out.gif", *FAST]))[-1])
P(9, "missing input whose name holds a carriage return", lambda c: (c.img("b.png"), Run(["animate", "real.png\rfake.png", "b.png", "-o", "out.gif", *FAST]))[-1])
P(9, "--model name holding ESC[2J", lambda c: (c.img("a.png"), Run(["animate", "a.png", "--model", f"x{ESC_CLEAR}", "-o", "out.gif", "--frames", "4", "-q"]))[-1])
P(9, "inspect an animation named ESC]0;title BEL", lambda c: (c.img(f"{ESC_TITLE}.gif"), Run(["inspect", f"{ESC_TITLE}.gif"], expect="ok|error"))[-1])


def _esc_record(edit, command="inspect", kind="pair"):
    def fn(c):
        rec = c.pair_record() if kind == "pair" else c.model_record()
        edit(rec)
        c.save(rec, "x.pt")
        if command == "inspect":
            return Run(["inspect", "x.pt"], expect="ok|error")
        if command == "from":
            return Run(["animate", "--from", "x.pt", "-o", "out.gif", "--frames", "4", "-q"], expect="ok|error", outputs=["out.gif"])
        c.img("a.png")
        return Run(["animate", "a.png", "--model", "x.pt", "-o", "out.gif", "--frames", "4", "-q"], expect="ok|error", outputs=["out.gif"])
    return fn


P(9, "checkpoint img2gif_version holding ESC]0; -> inspect", _esc_record(lambda r: r.update(img2gif_version=f"0.1.0{ESC_TITLE}")))
P(9, "checkpoint from a 'newer' version holding ESC[2J -> error line", _esc_record(lambda r: r.update(format_version=99, img2gif_version=f"9{ESC_CLEAR}"), command="from"))
P(9, "checkpoint velocity name holding ESC]0; -> animate --from", _esc_record(lambda r: r["velocity"].update(name=f"svf{ESC_TITLE}"), command="from"))
P(9, "checkpoint fit.loss holding ESC[2J -> inspect", _esc_record(lambda r: r["fit"].update(loss=f"l2{ESC_CLEAR}")))
P(9, "checkpoint dict key holding ESC[2J -> inspect", _esc_record(lambda r: r["fit"].update({f"k{ESC_CLEAR}": 1})))
P(9, "model solver name holding BEL -> animate --model", _esc_record(lambda r: r["solver"].update(name="x\x07\x07"), command="model", kind="model"))
P(9, "train --data folder named ESC]0; (missing)", lambda c: Run(["train", "--data", f"D{ESC_TITLE}", "--unpaired", "-q"]))


# 10. NaN / inf weights
def _weights(fill, kind="pair", command="animate"):
    def fn(c):
        rec = c.pair_record() if kind == "pair" else c.model_record()
        rec["state_dict"] = {k: (torch.full_like(v, fill) if v.is_floating_point() else v) for k, v in rec["state_dict"].items()}
        c.save(rec, "x.pt")
        c.prev("out.gif")
        if command == "inspect":
            return Run(["inspect", "x.pt"], expect="ok|error")
        if command == "plot":
            return Run(["inspect", "x.pt", "--plot", "p.png"], expect="ok|error", outputs=["p.png"])
        if kind == "pair":
            return Run(["animate", "--from", "x.pt", "-o", "out.gif", "--frames", "4", "-q"])
        c.img("a.png")
        return Run(["animate", "a.png", "--model", "x.pt", "-o", "out.gif", "--frames", "4", "-q"])
    return fn


P(10, "pair grids all NaN -> animate --from", _weights(float("nan")))
P(10, "pair grids all +inf -> animate --from", _weights(float("inf")))
P(10, "pair grids all 1e30 -> animate --from", _weights(1e30))
P(10, "pair grids NaN -> inspect", _weights(float("nan"), command="inspect"))
P(10, "pair grids NaN -> inspect --plot", _weights(float("nan"), command="plot"))
P(10, "model weights all NaN -> animate --model", _weights(float("nan"), kind="model"))
P(10, "model weights all -inf -> animate --model", _weights(float("-inf"), kind="model"))


def _one_nan(c):
    rec = c.model_record()
    k = next(k for k, v in rec["state_dict"].items() if v.is_floating_point() and k.endswith("bias"))
    rec["state_dict"][k] = rec["state_dict"][k].clone()
    rec["state_dict"][k][0] = float("nan")
    c.save(rec, "x.pt")
    c.img("a.png")
    return Run(["animate", "a.png", "--model", "x.pt", "-o", "out.gif", "--frames", "4", "-q"])


P(10, "model: a single NaN bias -> animate --model", _one_nan)
P(10, "pair NaN used as --model start for a fit", lambda c: (c.ab(), _weights(float("nan"), kind="model")(c), Run(["animate", "a.png", "b.png", "--model", "x.pt", "-o", "out.gif", *FAST]))[-1])


def _resume_nan(c):
    c.data()
    c.run_setup(["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "m.pt", "--sample-every", "0", "-q"])
    rec = load_record(c.p("m.pt"))
    rec["state_dict"] = {k: (torch.full_like(v, float("nan")) if v.is_floating_point() else v) for k, v in rec["state_dict"].items()}
    c.save(rec, "m.pt")
    return _train(c, "--resume", "--steps", "4")


P(10, "train --resume from a checkpoint with NaN weights", _resume_nan)


# 11. disk full while saving a checkpoint / frames
P(11, "fit-pair -o full tmpfs, previous pair.pt kept", lambda c: (c.ab(), c.tmpfs("full", 200, 0, files={"pair.pt": PREV}), Run(["fit-pair", "a.png", "b.png", "-o", "full/pair.pt", "--working-size", "32", "-q"]))[-1])
P(11, "fit-pair -o full tmpfs, no previous", lambda c: (c.ab(), c.tmpfs("full", 200, 0), Run(["fit-pair", "a.png", "b.png", "-o", "full/pair.pt", "--working-size", "32", "-q"]))[-1])
P(11, "fit-pair -o tmpfs with 4 KB free (pair is ~9 KB)", lambda c: (c.ab(), c.tmpfs("full", 200, 4), Run(["fit-pair", "a.png", "b.png", "-o", "full/pair.pt", "--working-size", "32", "-q"]))[-1])
P(11, "train -o full tmpfs", lambda c: (c.tmpfs("full", 200, 0), _train(c, out="full/m.pt"))[-1])
P(11, "train -o tmpfs with 64 KB free (model ~0.5 MB), --checkpoint-every 1", lambda c: (c.tmpfs("full", 200, 64), _train(c, "--checkpoint-every", "1", out="full/m.pt"))[-1])
P(11, "train samples folder on a full tmpfs (--sample-every 1)", lambda c: (c.tmpfs("full", 1024, 0), c.data(), Run(["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "full/m.pt", "--sample-every", "1", "-q"]))[-1])
P(11, "frames folder on a full tmpfs", lambda c: (c.ab(), c.tmpfs("full", 200, 0), Run(["animate", "a.png", "b.png", "-o", "full/frames/", *FAST]))[-1])
P(11, "existing frames folder on a full tmpfs, previous frames kept", lambda c: (c.ab(), c.tmpfs("full", 200, 0, files={"frames/frame_0000.png": PREV, "frames/frame_0001.png": PREV}), Run(["animate", "a.png", "b.png", "-o", "full/frames/", *FAST]))[-1])
P(11, "gif on a tmpfs with 8 KB free (noisy 128x96 x30)", lambda c: (c.p("in").mkdir(), _noise(c, "in/a.png", 96, 128, 1), _noise(c, "in/b.png", 96, 128, 2), c.tmpfs("full", 200, 8, files={"out.gif": PREV}), Run(["animate", "in/a.png", "in/b.png", "-o", "full/out.gif", "--frames", "30", "--working-size", "32", "-q"]))[-1])


def _train_name_full(c):
    c.tmpfs("cache", 200, 0)
    # the folder is checked (and made) before training; the copy fails after it: the trained
    # checkpoint m.pt is the run's own result and is kept (the error says where)
    run = _train(c, "--name", "mine", env={"IMG2GIF_CACHE_DIR": str(c.p("cache"))})
    run.ignore = list(run.ignore) + ["m.pt", "cache/models", "cache/models/user"]
    return run


P(11, "train --name with the cache on a full tmpfs", _train_name_full)


# 12. cache folder problems
def _digits_with_cache(prepare, expect="ok|error"):
    def fn(c):
        cache = prepare(c)
        c.img("a.png")
        return Run(["animate", "a.png", "--model", "digits", "-o", "out.gif", "--frames", "4", "-q"], expect=expect,
                   env={"IMG2GIF_CACHE_DIR": cache}, outputs=["out.gif"], anim="out.gif")
    return fn


P(12, "IMG2GIF_CACHE_DIR is a file -> --model digits", _digits_with_cache(lambda c: str(c.p(c.prev("cachefile")))))
P(12, "IMG2GIF_CACHE_DIR on a read-only tmpfs -> --model digits", _digits_with_cache(lambda c: str(c.p(c.readonly(c.tmpfs("ro", 2048, 2000))))))
P(12, "IMG2GIF_CACHE_DIR read-only, models already cached -> --model digits", _digits_with_cache(
    lambda c: (c.tmpfs("ro", 2048, 1000, files={"models/digits.pt": c.fx.digits.read_bytes()}), str(c.p(c.readonly("ro"))))[1]))
P(12, "IMG2GIF_CACHE_DIR empty string -> --model digits", _digits_with_cache(lambda c: ""))
P(12, "IMG2GIF_CACHE_DIR under a file (file/sub) -> --model digits", _digits_with_cache(lambda c: str(c.p(c.prev("cachefile")) / "sub")))
P(12, "IMG2GIF_CACHE_DIR relative path", lambda c: (c.img("a.png"), Run(["animate", "a.png", "--model", "digits", "-o", "out.gif", "--frames", "4", "-q"], expect="ok", env={"IMG2GIF_CACHE_DIR": "rel/cache"}, outputs=["out.gif"], anim="out.gif", ignore=["rel", "rel/*"]))[-1])
P(12, "<cache>/models is a file -> --model digits", _digits_with_cache(lambda c: (c.write("cache/models", PREV), str(c.p("cache")))[1]))
P(12, "inspect with IMG2GIF_CACHE_DIR a file", lambda c: Run(["inspect"], expect="ok|error", env={"IMG2GIF_CACHE_DIR": str(c.p(c.prev("cachefile")))}))
P(12, "inspect --models with a read-only cache", lambda c: Run(["inspect", "--models"], expect="ok", env={"IMG2GIF_CACHE_DIR": str(c.p(c.readonly(c.tmpfs("ro", 64, 32))))}))


def _train_name_ro(c):
    c.tmpfs("ro", 64, 32)
    c.readonly("ro")
    return _train(c, "--name", "x", env={"IMG2GIF_CACHE_DIR": str(c.p("ro"))})


P(12, "train --name x with a read-only cache (nothing written, m.pt included)", _train_name_ro)
P(12, "train --name x with IMG2GIF_CACHE_DIR a file", lambda c: _train(c, "--name", "x", env={"IMG2GIF_CACHE_DIR": str(c.p(c.prev("cachefile")))}))
P(12, "train --name '../escape' (path in a model name)", lambda c: _train(c, "--name", "../escape", env=_own_cache(c), ignore=["cache", "cache/*"]))


# 13. odd output names and huge widths
P(13, "-o NAME/ where NAME is a file", lambda c: (c.ab(), c.prev("NAME"), Run(["animate", "a.png", "b.png", "-o", "NAME/", *FAST]))[-1])
P(13, "-o NAME/ where NAME is a dangling symlink", lambda c: (c.ab(), os.symlink("nowhere", c.p("NAME")), Run(["animate", "a.png", "b.png", "-o", "NAME/", *FAST], expect="ok|error", outputs=["nowhere", "nowhere/*"]))[-1])
P(13, "-o out.gif where out.gif is a dangling symlink", lambda c: (c.ab(), os.symlink("nowhere.gif", c.p("out.gif")), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="ok|error", outputs=["out.gif", "nowhere.gif"]))[-1])
P(13, "-o out.gif where out.gif is a symlink to /dev/null", lambda c: (c.ab(), os.symlink("/dev/null", c.p("out.gif")), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="ok|error", outputs=["out.gif"]))[-1])
for n in (244, 250, 255):
    def _long(c, n=n):
        c.ab()
        name = "x" * (n - 4) + ".gif"
        return Run(["animate", "a.png", "b.png", "-o", name, *FAST], expect="ok", outputs=[name], anim=name)
    P(13, f"legal {n}-character output file name", _long)
P(13, "legal 251-character fit-pair -o name", lambda c: (c.ab(), Run(["fit-pair", "a.png", "b.png", "-o", "p" * 248 + ".pt", "--working-size", "32", "-q"], expect="ok", outputs=["p" * 248 + ".pt"], check=expect_checkpoint("p" * 248 + ".pt")))[-1])
P(13, "GIF wider than 65535 px (70000x2)", lambda c: _animate_to(c, "out.gif", h=2, w=70000, env=MAXPIX, expect="ok|error"))
P(13, "WebP wider than 16383 px (17000x2)", lambda c: _animate_to(c, "out.webp", h=2, w=17000, env=MAXPIX, expect="ok|error"))
P(13, "APNG 70000x2", lambda c: _animate_to(c, "out.png", h=2, w=70000, env=MAXPIX, expect="ok|error"))
P(13, "MP4 with odd size 33x25 ('wrote' must say what is on disk)", lambda c: _animate_to(c, "out.mp4", h=25, w=33))
P(13, "--size 65536 upscale? (cap larger than the image)", lambda c: _animate_to(c, "out.gif", extra=["--size", "65536"], expect="ok|error"))


# 14. option values
def _anim_opt(*opts, expect="error", out="out.gif"):
    def fn(c):
        c.ab()
        c.prev(out)
        return Run(["animate", "a.png", "b.png", "-o", out, "--working-size", "32", "-q", *opts], expect=expect,
                   outputs=[out], anim=out if "ok" in expect else None)
    return fn


P(14, "--seed 2**70", _anim_opt("--frames", "4", "--seed", str(2 ** 70), expect="ok|error"))
P(14, "--seed -1", _anim_opt("--frames", "4", "--seed", "-1", expect="ok|error"))
P(14, "--fps 0.001 to a GIF", _anim_opt("--frames", "4", "--fps", "0.001", expect="ok|error"))
P(14, "--fps nan", _anim_opt("--frames", "4", "--fps", "nan"))
P(14, "--fps inf", _anim_opt("--frames", "4", "--fps", "inf"))
P(14, "--fps -1", _anim_opt("--frames", "4", "--fps", "-1"))
P(14, "--duration nan", _anim_opt("--frames", "4", "--duration", "nan"))
P(14, "--duration 1e308 --fps 30 (frame count overflow)", _anim_opt("--duration", "1e308", "--fps", "30"))
P(14, "--frames 0", _anim_opt("--frames", "0"))
P(14, "--frames -3", _anim_opt("--frames", "-3"))
P(14, "--frames 1", _anim_opt("--frames", "1", expect="ok|error"))
P(14, "--frames 4 --fps 10 --duration 3 (contradiction)", _anim_opt("--frames", "4", "--fps", "10", "--duration", "3"))
P(14, "--hold-start nan", _anim_opt("--frames", "4", "--hold-start", "nan"))
P(14, "--hold-end -1", _anim_opt("--frames", "4", "--hold-end", "-1"))
P(14, "--size 0", _anim_opt("--frames", "4", "--size", "0"))
P(14, "--size 1", _anim_opt("--frames", "4", "--size", "1"))
P(14, "--working-size 8 (below the range)", _anim_opt("--frames", "4", "--working-size", "8"))
P(14, "--frames abc (typer's own usage error)", _anim_opt("--frames", "abc"))
P(14, "--device cuda without CUDA", _anim_opt("--frames", "4", "--device", "cuda", expect="ok|error"))
P(14, "--solver scaling-squaring --velocity unet", _anim_opt("--frames", "4", "--velocity", "unet", "--solver", "scaling-squaring"))
P(14, "--loss nosuch", _anim_opt("--frames", "4", "--loss", "nosuch"))
P(14, "train --lr -1", lambda c: _train(c, "--lr", "-1"))
P(14, "train --lr nan", lambda c: _train(c, "--lr", "nan"))
P(14, "train --lr inf", lambda c: _train(c, "--lr", "inf"))
P(14, "train --checkpoint-every 0", lambda c: _train(c, "--checkpoint-every", "0", expect="ok|error"))
P(14, "train --checkpoint-every -1", lambda c: _train(c, "--checkpoint-every", "-1", expect="ok|error"))
P(14, "train --sample-every -1", lambda c: _train(c, "--sample-every", "-1", expect="ok|error"))
P(14, "train --step-size nan", lambda c: _train(c, "--step-size", "nan"))
P(14, "train --step-size inf", lambda c: _train(c, "--step-size", "inf"))
P(14, "train --step-size 0", lambda c: _train(c, "--step-size", "0"))
P(14, "train --step-size -0.25", lambda c: _train(c, "--step-size", "-0.25"))
P(14, "train --steps 0", lambda c: _train(c, "--steps", "0"))
P(14, "train --batch-size 0", lambda c: _train(c, "--batch-size", "0"))
P(14, "train --size 12 (not a power of two)", lambda c: _train(c, "--size", "12"))
P(14, "train --size 0", lambda c: _train(c, "--size", "0"))
P(14, "train --paired --loss jacobian (a regulariser, not a data loss)", lambda c: _train(c, "--loss", "jacobian", unpaired=False))
P(14, "train --paired --loss nosuch", lambda c: _train(c, "--loss", "nosuch", unpaired=False))
P(14, "train --channels 4 with RGB images", lambda c: _train(c, "--channels", "4", expect="ok|error"))
P(14, "train --channels 2", lambda c: _train(c, "--channels", "2"))
P(14, "train --cycle nan", lambda c: _train(c, "--cycle", "nan"))
P(14, "train --fold-weight -1", lambda c: _train(c, "--fold-weight", "-1", expect="ok|error"))
P(14, "train --epochs nan", lambda c: (c.data(), Run(["train", "--data", "D", "--unpaired", "--size", "8", "--epochs", "nan", "--batch-size", "4", "-o", "m.pt", "-q"]))[-1])
P(14, "train --paired with start/ and end/ names that don't overlap", lambda c: (c.data(paired_names=False), _train(c, unpaired=False))[-1])
P(14, "train --paired and --unpaired together", lambda c: _train(c, "--paired"))
P(14, "train --start-dir ../.. (outside --data)", lambda c: _train(c, "--start-dir", "../..", expect="error"))


def _samples_file(c):
    c.data()
    c.prev("m-samples")
    return Run(["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "m.pt",
                "--sample-every", "1", "-q"])


P(14, "train: <stem>-samples path is a file", _samples_file)


# 15. environment
def _nonascii_inspect(c):
    c.img("фото_ü.gif")
    return Run(["inspect", "фото_ü.gif"], expect="ok", env={"PYTHONIOENCODING": "ascii"})


P(15, "inspect non-ASCII file name with PYTHONIOENCODING=ascii", _nonascii_inspect)
P(15, "missing non-ASCII input with PYTHONIOENCODING=ascii", lambda c: (c.img("b.png"), Run(["animate", "фото.png", "b.png", "-o", "out.gif", *FAST], env={"PYTHONIOENCODING": "ascii"}))[-1])
P(15, "animate non-ASCII names with LC_ALL=C, PYTHONIOENCODING=ascii", lambda c: (c.img("ä.png"), c.img("ö.png", shift=(3, 2)), Run(["animate", "ä.png", "ö.png", "-o", "ü.gif", *FAST], expect="ok", env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"}, outputs=["ü.gif"], anim="ü.gif"))[-1])
P(15, "non-UTF-8 file name bytes (latin-1 'é')", lambda c: (c.img("b.png"), c.w.joinpath(os.fsdecode(b"caf\xe9.png")).write_bytes(b"junk"), Run(["animate", os.fsdecode(b"caf\xe9.png"), "b.png", "-o", "out.gif", *FAST]))[-1])
P(15, "inspect pair.pt > /dev/full", lambda c: (c.pair(), Run(["inspect", "pair.pt"], stdout="devfull"))[-1])
P(15, "inspect --models > /dev/full", lambda c: Run(["inspect", "--models"], stdout="devfull"))
P(15, "animate with stdout /dev/full (writes nothing to stdout)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="ok", stdout="devfull", outputs=["out.gif"], anim="out.gif"))[-1])
P(15, "inspect pair.pt | (reader gone)", lambda c: (c.pair(), Run(["inspect", "pair.pt"], expect="ok|error", stdout="closedpipe"))[-1])
P(15, "animate 2> closed pipe (after a complete write, exit must be 0)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="ok", stderr="closedpipe", outputs=["out.gif"], check=lambda c, r: [] if anim_info(c.p("out.gif"))["frames"] == 4 else [("lie", "not 4 frames")]))[-1])
P(15, "animate with progress bar, 2> closed pipe", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", "--frames", "4", "--working-size", "32"], expect="ok", stderr="closedpipe", outputs=["out.gif"]))[-1])
P(15, "animate with stderr closed (2>&-)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="ok", stderr="closed", outputs=["out.gif"]))[-1])
P(15, "animate error with stderr a closed pipe (exit must still be 2)", lambda c: Run(["animate", "missing.png", "b.png", "-o", "out.gif", *FAST], stderr="closedpipe", expect="error"))
for cols in ("0", "-5", "abc", "100000", "1"):
    P(15, f"inspect pair.pt with COLUMNS={cols}", lambda c, cols=cols: (c.pair(), Run(["inspect", "pair.pt"], expect="ok", env={"COLUMNS": cols}))[-1])
P(15, "inspect --models with COLUMNS=0", lambda c: Run(["inspect", "--models"], expect="ok", env={"COLUMNS": "0"}))
P(15, "error line with COLUMNS=10 (must stay one line)", lambda c: Run(["animate", "a-rather-long-missing-file-name.png", "b.png", "-o", "out.gif", *FAST], env={"COLUMNS": "10"}))
P(15, "TERM=xterm-256color, FORCE_COLOR unset: error line must carry no colour codes when piped", lambda c: Run(["animate", "missing.png", "b.png", "-o", "out.gif", *FAST], env={"TERM": "xterm-256color"}))
P(15, "HOME unset, IMG2GIF_CACHE_DIR unset -> inspect", lambda c: Run(["inspect"], expect="ok|error", env={"HOME": None, "IMG2GIF_CACHE_DIR": None, "XDG_CACHE_HOME": str(c.p("xdg"))}, ignore=["xdg", "xdg/*"]))


# 16. train --resume with changed settings
def _resume(*changed, expect="error"):
    def fn(c):
        c.data()
        c.run_setup(["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "m.pt",
                     "--sample-every", "0", "--checkpoint-every", "1", "-q"])
        run = _train(c, "--resume", "--steps", "4", *changed, expect=expect)
        if expect == "ok":
            run.check = expect_checkpoint("m.pt", "img2gif.model", step=4)
        return run
    return fn


P(16, "resume unchanged to --steps 4 (baseline)", _resume(expect="ok"))
P(16, "resume with a changed --size 16", _resume("--size", "16"))
P(16, "resume with a changed --channels 3", _resume("--channels", "3"))
P(16, "resume with a changed --velocity svf", _resume("--velocity", "svf"))
P(16, "resume with a changed --lr 0.01", _resume("--lr", "0.01", expect="ok"))  # allowed, and reported
P(16, "resume with a changed --batch-size 2", _resume("--batch-size", "2", expect="ok|error"))
P(16, "resume with --paired instead of --unpaired", _resume("--paired"))
P(16, "resume with a changed --solver euler", _resume("--solver", "euler"))
P(16, "resume with fewer --steps than done (1 < 2)", lambda c: (_resume()(c), _train(c, "--resume", "--steps", "1", expect="ok|error"))[-1])
P(16, "resume with no checkpoint at -o", lambda c: _train(c, "--resume"))
P(16, "resume from a pair .pt", lambda c: (c.pair("m.pt"), _train(c, "--resume"))[-1])
P(16, "resume from the shipped digits model (no optimiser state)", lambda c: (c.copy(c.fx.digits, "m.pt"), _train(c, "--resume", "--steps", "2001", expect="ok|error"))[-1])


# 17. float / 16-bit TIFF inputs must not come out black
def _tiff(mode, make, expect_mean, expect="ok"):
    def fn(c):
        for k, name in enumerate(("a.tif", "b.tif")):
            im = Image.fromarray(make(k))
            assert im.mode == mode, (im.mode, mode)
            im.save(c.p(name))
        return Run(["animate", "a.tif", "b.tif", "-o", "out.gif", *FAST], expect=expect, outputs=["out.gif"], anim="out.gif",
                   check=expect_brightness("out.gif", expect_mean))
    return fn


def _gray_float(k):
    return (blob_image(shift=(3.0 * k, 2.0 * k))[..., 0] / 255.0).astype(np.float32)


_GRAY_MEAN = float(blob_image()[..., 0].mean())
P(17, "float32 grayscale TIFF in [0,1]", _tiff("F", _gray_float, _GRAY_MEAN))
P(17, "float32 grayscale TIFF in [0,255]", _tiff("F", lambda k: (_gray_float(k) * 255).astype(np.float32), _GRAY_MEAN, expect="ok|error"))
P(17, "16-bit grayscale TIFF (I;16) full range", _tiff("I;16", lambda k: (_gray_float(k) * 65535).astype(np.uint16), _GRAY_MEAN))
P(17, "32-bit int grayscale TIFF (I) in [0,65535]", _tiff("I", lambda k: (_gray_float(k) * 65535).astype(np.int32), _GRAY_MEAN, expect="ok|error"))
P(17, "float32 TIFF holding NaN", _tiff("F", lambda k: np.where(np.arange(24 * 32).reshape(24, 32) % 7 == 0, np.nan, _gray_float(k)).astype(np.float32), _GRAY_MEAN, expect="ok|error"))
P(17, "float32 TIFF holding +inf", _tiff("F", lambda k: np.where(np.arange(24 * 32).reshape(24, 32) % 7 == 0, np.inf, _gray_float(k)).astype(np.float32), _GRAY_MEAN, expect="ok|error"))


def _float_tiff_model(c):
    Image.fromarray(_gray_float(0)).save(c.p("a.tif"))
    return Run(["animate", "a.tif", "--model", "digits", "-o", "out.gif", "--frames", "4", "-q"], expect="ok", outputs=["out.gif"],
               anim="out.gif", check=lambda c, r: [] if anim_info(c.p("out.gif"))["mean"] > 0.35 * _GRAY_MEAN else [("lie", f"float TIFF through --model came out dark: mean {anim_info(c.p('out.gif'))['mean']:.1f} (input {_GRAY_MEAN:.1f})")])


P(17, "float32 TIFF in [0,1] through --model digits", _float_tiff_model)


# 18/20. signals: must leave no hidden temp file/folder, previous output intact
def _signal_run(sig, trigger, out="out.mp4", big=True, prev=True, cmd="animate"):
    def fn(c):
        c.p("in").mkdir()
        if big:
            c.img("in/a.png", 192, 256)
            c.img("in/b.png", 192, 256, shift=(9.0, 6.0))
        else:
            c.img("in/a.png")
            c.img("in/b.png", shift=(3.0, 2.0))
        if prev and not out.endswith("/"):
            c.prev(out)
        if cmd == "fit-pair":
            args = ["fit-pair", "in/a.png", "in/b.png", "-o", out, "--working-size", "256"]
        else:
            args = ["animate", "in/a.png", "in/b.png", "-o", out, "--working-size", "128", "--frames", "150"]
        return Run(args, expect="interrupted", signal=(sig, trigger), outputs=[], timeout=120)
    return fn


P(18, "SIGHUP 3 s into animate -> mp4", _signal_run(signal.SIGHUP, 3.0))
P(18, "SIGHUP 3 s into animate -> gif", _signal_run(signal.SIGHUP, 3.0, out="out.gif"))
P(18, "SIGHUP when the temp file appears (mp4)", _signal_run(signal.SIGHUP, ("temp", "."), out="out.mp4"))
P(18, "SIGHUP when the temp file appears (gif)", _signal_run(signal.SIGHUP, ("temp", "."), out="out.gif"))
# the new frames are built in a hidden folder beside frames/, then swapped in
P(18, "SIGHUP when the temp folder appears (frames dir)", _signal_run(signal.SIGHUP, ("temp", "."), out="frames/"))
P(18, "SIGTERM when the temp file appears (mp4)", _signal_run(signal.SIGTERM, ("temp", "."), out="out.mp4"))
P(18, "SIGINT when the temp file appears (webp)", _signal_run(signal.SIGINT, ("temp", "."), out="out.webp"))
P(18, "SIGHUP 3 s into fit-pair", _signal_run(signal.SIGHUP, 3.0, out="pair.pt", cmd="fit-pair"))
P(18, "SIGHUP while training after the first checkpoint", lambda c: (lambda r: (setattr(r, "signal", (signal.SIGHUP, 6.0)), setattr(r, "expect", "interrupted"), setattr(r, "check", None), setattr(r, "outputs", ["m.pt"]), r)[-1])(_train(c, "--steps", "100000", "--checkpoint-every", "1", timeout=60)))

P(20, "IMG2GIF_MAX_PIXELS=-5", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], env={"IMG2GIF_MAX_PIXELS": "-5"}))[-1])
P(20, "IMG2GIF_MAX_PIXELS=0", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], env={"IMG2GIF_MAX_PIXELS": "0"}))[-1])
P(20, "IMG2GIF_MAX_PIXELS=abc", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], env={"IMG2GIF_MAX_PIXELS": "abc"}))[-1])
P(20, "IMG2GIF_MAX_PIXELS=1e9 (float notation)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="ok|error", env={"IMG2GIF_MAX_PIXELS": "1e9"}, outputs=["out.gif"], anim="out.gif"))[-1])
P(20, "IMG2GIF_MAX_PIXELS=10**30", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="ok", env={"IMG2GIF_MAX_PIXELS": str(10 ** 30)}, outputs=["out.gif"], anim="out.gif"))[-1])
P(20, "IMG2GIF_MAX_PIXELS=100 (below the input)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], env={"IMG2GIF_MAX_PIXELS": "100"}))[-1])
P(20, "IMG2GIF_MAX_PIXELS=-5 -> inspect", lambda c: (c.img("a.gif"), Run(["inspect", "a.gif"], expect="ok|error", env={"IMG2GIF_MAX_PIXELS": "-5"}))[-1])


def _fifo(args_fn, **kw):
    def fn(c):
        os.mkfifo(c.p("x.pt"))
        return Run(args_fn(c), timeout=30, **kw)
    return fn


P(20, "FIFO as animate --from x.pt", _fifo(lambda c: ["animate", "--from", "x.pt", "-o", "out.gif", "--frames", "4", "-q"]))
P(20, "FIFO as inspect x.pt", _fifo(lambda c: ["inspect", "x.pt"]))
P(20, "FIFO as --model x.pt", _fifo(lambda c: (c.img("a.png"), ["animate", "a.png", "--model", "x.pt", "-o", "out.gif", "--frames", "4", "-q"])[-1]))
P(20, "FIFO as train --resume -o x.pt", _fifo(lambda c: (c.data(), ["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "x.pt", "--resume", "-q"])[-1]))
P(20, "FIFO as fit-pair -o x.pt (an output that is a FIFO)", _fifo(lambda c: (c.ab(), ["fit-pair", "a.png", "b.png", "-o", "x.pt", "--working-size", "32", "-q"])[-1]))
P(20, "FIFO as animate -o out.gif", lambda c: (c.ab(), os.mkfifo(c.p("out.gif")), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], timeout=30, expect="ok|error", outputs=["out.gif"]))[-1])


def _ctrl_c_train(c):
    run = _train(c, "--steps", "100000", "--checkpoint-every", "50000", timeout=60)
    run.args = [a for a in run.args if a != "-q"]
    run.expect, run.check, run.signal = "interrupted", None, (signal.SIGINT, ("text", "training on"))
    return run


P(20, "Ctrl-C (SIGINT) right after 'training on', before the first checkpoint", _ctrl_c_train)
P(20, "Ctrl-C 1.5 s after start (during imports)", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="interrupted", signal=(signal.SIGINT, 1.5)))[-1])
P(20, "Ctrl-C 0.3 s after start", lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.gif", *FAST], expect="interrupted", signal=(signal.SIGINT, 0.3)))[-1])


# 19 ("also"): the "wrote ..." line must describe the file on disk
def _wrote(out, *opts, identical=False):
    def fn(c):
        c.img("a.png")
        if identical:
            c.img("b.png")
        else:
            c.img("b.png", shift=(3.0, 2.0))
        return Run(["animate", "a.png", "b.png", "-o", out, "--working-size", "32", "-q", *opts], expect="ok", outputs=[out], anim=out)
    return fn


for ext in ("gif", "webp", "png", "mp4"):
    P(19, f"pingpong + holds to {ext}: 'wrote' duration vs the file", _wrote(f"out.{ext}", "--frames", "4", "--fps", "10", "--loop", "pingpong", "--hold-start", "0.5", "--hold-end", "0.3"))
for ext in ("gif", "webp", "png"):
    P(19, f"two identical inputs to {ext}: 'wrote' frame count vs the file", _wrote(f"out.{ext}", "--frames", "4", identical=True))
P(19, "--fps 60 to gif (resampled to 50): 'wrote' vs the file", _wrote("out.gif", "--frames", "12", "--fps", "60"))
P(19, "--fps 7 to gif (delays round to 10 ms)", _wrote("out.gif", "--frames", "14", "--fps", "7"))
P(19, "--fps 7 to webp", _wrote("out.webp", "--frames", "14", "--fps", "7"))
P(19, "--loop once --hold-end 1 to mp4", _wrote("out.mp4", "--frames", "4", "--fps", "10", "--loop", "once", "--hold-end", "1"))
P(19, "--duration 0.05 --fps 30 to gif (fewer than 2 frames?)", _wrote("out.gif", "--duration", "0.05", "--fps", "30"))


def _reverse_wrote(c):
    c.img("in.png")
    return Run(["reverse", "in.png", "--model", "digits", "-o", "out.gif", "--frames", "4", "--fps", "10", "--hold-end", "0.5"], expect="ok", outputs=["out.gif"], anim="out.gif")


P(19, "reverse --hold-end 0.5: 'wrote' vs the file", _reverse_wrote)

CLASS_TITLES = {
    1: "encoder failures / previous file", 2: "inspect --plot target", 3: "output equal to an input", 4: "frame-folder output",
    5: "memory-bomb checkpoints", 6: "hangs", 7: "digest removed / renamed / wrong", 8: "odd pairs, user-model shadowing",
    9: "terminal escapes", 10: "NaN / inf weights", 11: "disk full on save", 12: "cache folder problems",
    13: "odd output names, huge widths", 14: "option values", 15: "environment (encoding, stdio, COLUMNS)",
    16: "train --resume with changes", 17: "float / 16-bit TIFF input", 18: "SIGHUP / signals mid-write",
    19: "'wrote' line vs the file", 20: "env limits, FIFOs, Ctrl-C",
    # tests/probes/probes_video.py (issue 28's causes)
    21: "data loss (video, audio copy, sample sheets)", 22: "names read as URLs", 23: "resources (tiny inputs, big costs)",
    24: "tracebacks (names, streams)", 25: "wrong output (rates, counts, audio)", 26: "feel (messages)",
}


# ----------------------------------------------------------------------------- main

def run_probe(h: Harness, fx: Fixtures, pr: Probe, index: int) -> dict:
    work = h.base / f"p{index:03d}"
    work.mkdir()
    (work / ".tmp").mkdir()
    ctx = Ctx(work, fx, h)
    rec = {"class": pr.cls, "name": pr.name}
    try:
        try:
            run = pr.setup(ctx)
        except Skip as exc:
            rec.update(outcome="skipped", held=False, detail=str(exc))
            return rec
        before = snapshot(work)
        res = h.execute(run, ctx)
        after = snapshot(work)
        outcome, fails = h.classify(run, res, before, after, ctx)
        rec.update(outcome=outcome, held=outcome in HELD, expect=run.expect, rc=res.rc, seconds=round(res.seconds, 2),
                   command="img2gif " + " ".join(ascii(a)[1:-1] if not re.fullmatch(r"[\w./=:+-]*", str(a)) else str(a) for a in run.args),
                   failures=[{"kind": k, "detail": d} for k, d in fails],
                   detail=fails[0][1] if fails else "", stderr_last=ascii(last_line(res.stderr))[1:-1][:300])
        if outcome == "skipped":
            rec["held"] = False
        return rec
    except Exception as exc:  # noqa: BLE001  a harness bug must not stop the run
        rec.update(outcome="skipped", held=False, detail=f"harness error: {type(exc).__name__}: {exc}"[:300])
        return rec
    finally:
        ctx.unmount()
        if not h.keep:
            shutil.rmtree(work, ignore_errors=True)


def main(default_only: str | None = None, default_json: str = "probes.json", description: str | None = None) -> int:
    """Run the registered probes; ``default_only`` (classes, "21,22") is what runs without --only."""
    ap = argparse.ArgumentParser(description=description or __doc__.split("\n\n")[0])
    ap.add_argument("--only", default=default_only, help=f"comma-separated class numbers (default: {default_only or 'all'})")
    ap.add_argument("--list", action="store_true", help="list the probes and exit")
    ap.add_argument("--src", default=str(ROOT), help="folder holding the img2gif package to probe (put first on PYTHONPATH)")
    ap.add_argument("--keep", action="store_true", help="keep each probe's folder (printed at the end)")
    ap.add_argument("--json", default=default_json, help="file name under bench/out/")
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",")} if args.only else None
    probes = [p for p in sorted(PROBES, key=lambda p: p.cls) if only is None or p.cls in only]
    if args.list:
        for p in probes:
            print(f"{p.cls:>2}  {p.name}")
        print(f"{len(probes)} probes")
        return 0
    t0 = time.perf_counter()
    h = Harness(Path(args.src).resolve(), args.keep)
    results = []
    try:
        global FIXTURES
        fx = FIXTURES = Fixtures(h.base / "fixtures", h)
        for i, pr in enumerate(probes):
            r = run_probe(h, fx, pr, i)
            results.append(r)
            mark = "held" if r["held"] else ("skip" if r["outcome"] == "skipped" else "FAIL")
            print(f"[{i + 1:3}/{len(probes)}] {mark:4} {r['outcome']:<12} {r.get('seconds', 0):6.1f}s  {pr.cls:>2} {pr.name}", flush=True)
    finally:
        for line in subprocess.run(["mount"], capture_output=True, text=True).stdout.splitlines():
            if str(h.base) in line:
                subprocess.run(["umount", "-l", line.split(" on ")[1].split(" type ")[0]], capture_output=True)
        if not h.keep:
            shutil.rmtree(h.base, ignore_errors=True)
    total = time.perf_counter() - t0
    by = collections.OrderedDict()
    for r in results:
        b = by.setdefault(r["class"], {"probes": 0, "held": 0, "failed": 0, "skipped": 0})
        b["probes"] += 1
        b["held" if r["held"] else ("skipped" if r["outcome"] == "skipped" else "failed")] += 1
    print()
    print("| class | what | probes | held | failed | skipped |")
    print("|---|---|---|---|---|---|")
    for cls, b in by.items():
        print(f"| {cls} | {CLASS_TITLES.get(cls, '')} | {b['probes']} | {b['held']} | {b['failed']} | {b['skipped']} |")
    tot = {k: sum(b[k] for b in by.values()) for k in ("probes", "held", "failed", "skipped")}
    print(f"| all | | {tot['probes']} | {tot['held']} | {tot['failed']} | {tot['skipped']} |")
    kinds = collections.Counter(r["outcome"] for r in results if not r["held"] and r["outcome"] != "skipped")
    print("\nfailure kinds: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print("\nfailures:")
    for r in results:
        if not r["held"] and r["outcome"] != "skipped":
            print(f"  [{r['class']}] {r['name']}: {r['outcome']}: {r['detail'][:200]}")
            for f in r["failures"][1:]:
                print(f"        also {f['kind']}: {f['detail'][:160]}")
            if r.get("stderr_last"):
                print(f"        stderr: {r['stderr_last'][:200]}")
    skips = [r for r in results if r["outcome"] == "skipped"]
    if skips:
        print("\nskipped:")
        for r in skips:
            print(f"  [{r['class']}] {r['name']}: skipped: {r['detail']}")
    print(f"\n{len(results)} probes in {total:.0f} s")
    OUT.mkdir(parents=True, exist_ok=True)
    data = {"src": str(h.src), "seconds": round(total, 1), "summary": by, "totals": tot, "notes": fx.notes if results else [],
            "results": results}
    (OUT / args.json).write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"JSON: {OUT / args.json}")
    if args.keep:
        print(f"probe folders kept under {h.base}")
    return 1 if tot["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
