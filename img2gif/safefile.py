"""File safety: never a partial file, never an input overwritten, never a user's files lost.

Every file img2gif writes goes to a hidden temp file beside its target and is renamed into
place only once it is complete (and, for encoders, checked), so an interrupted or failed
write leaves the previous file at that path intact. A frames folder is built the same way:
a complete new folder beside the target, then swapped in (see :func:`replace_frames_dir`).
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

from .errors import OutputError

FRAMES_MARKER = ".img2gif-frames"   # inside a frames folder img2gif wrote: the names it wrote
_TEMP_RANDOM = 8                    # characters mkstemp adds
_PART = ".part"


def name_max(folder: Path) -> int:
    """Longest file name (bytes) the file system at ``folder`` allows."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_affixes(target: Path, suffix: str) -> tuple[str, str]:
    """Prefix and suffix of the temp files written beside ``target`` (hidden, marked .part).

    The name is shortened when needed so that the temp name fits the file system's limit
    even when the target's own name is as long as the limit allows.
    """
    parent = target.parent if str(target.parent) else Path(".")
    room = name_max(parent) - len(os.fsencode(f"..{_PART}{suffix}")) - _TEMP_RANDOM - _PID_ROOM
    # bytes, as the file system counts them: a name that is not UTF-8 (os.fsencode gives its
    # bytes back) is cut like any other
    name = os.fsdecode(os.fsencode(target.name)[: max(1, room)])
    return f".{name}.", f"{_PART}{suffix}"


_PID_ROOM = 12  # "<pid>-" in a temp name: who is writing it, so that a later run knows it is stale


def temp_beside(target: Path, suffix: str | None = None, directory: bool = False) -> Path:
    """A new hidden temp file (or folder) beside ``target``, with the usual permissions.

    Its name holds this process's id, so that :func:`remove_stale_temp_files` can tell a
    temp file that a killed run left from one that a running process is still writing.
    """
    target = Path(os.fspath(target))
    prefix, suffix = _temp_affixes(target, target.suffix if suffix is None else suffix)
    prefix = f"{prefix}{os.getpid()}-"
    parent = target.parent if str(target.parent) else Path(".")
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes the file private (0600); outputs get the usual mode
    return Path(name)


def remove_stale_temp_files(target) -> list[Path]:
    """Delete temp files that an earlier, killed write of ``target`` left beside it.

    SIGKILL (or the OOM killer) gives no chance to clean up, so every write of a target
    first removes what earlier writes of it left. A temp file whose writer is still running
    (its process id is in the name) is left alone. Returns what it removed.
    """
    target = Path(os.fspath(target))
    removed = []
    for suffix in {target.suffix, ""}:
        prefix, full_suffix = _temp_affixes(target, suffix)
        for stale in target.parent.glob(f"{glob.escape(prefix)}*{glob.escape(full_suffix)}"):
            if _writer_alive(stale.name[len(prefix):]):
                continue
            try:
                shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
                removed.append(stale)
            except OSError:
                pass
    return removed


def _writer_alive(rest: str) -> bool:
    """Is the process whose id starts ``rest`` ("<pid>-random...") still running?"""
    pid, dash, _ = rest.partition("-")
    if not dash or not pid.isdigit():
        return False  # a temp name from before ids were written: nobody claims it
    if int(pid) == os.getpid():
        return False  # ours, from an earlier write in this process that could not clean up
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process: leave its file alone
    return True


def save_torch(obj, tmp) -> None:
    """``torch.save`` that fails like any other write: OSError, naming a full disk as such.

    Why: on a full disk torch.save raises RuntimeError ("unexpected pos ..."), not OSError.
    """
    import errno

    import torch

    try:
        torch.save(obj, tmp)
    except RuntimeError as exc:
        parent = Path(os.fspath(tmp)).parent
        try:
            full = shutil.disk_usage(parent).free < (1 << 20)
        except OSError:
            full = False
        if full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None
        first = (str(exc).strip().splitlines() or ["failed"])[0]
        raise OSError(errno.EIO, f"torch.save failed: {first[:160]}") from None


def _cannot_write(target: Path, exc: BaseException) -> OutputError:
    text = str(exc).strip()
    reason = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else type(exc).__name__)
    return OutputError(f"{target}: cannot write ({reason})")


class _HangupAsInterrupt:
    """SIGHUP (the terminal closed) ends the write like Ctrl-C: temp files are removed."""

    def __enter__(self):
        self.previous = None
        if hasattr(signal, "SIGHUP"):
            try:
                self.previous = signal.signal(signal.SIGHUP, raise_keyboard_interrupt)
            except ValueError:  # not the main thread
                self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGHUP, self.previous)
        return False


def raise_keyboard_interrupt(signum, frame):
    """A signal handler that ends the work like Ctrl-C (temp files removed on the way out)."""
    raise KeyboardInterrupt


def atomic_replace_file(write, target) -> None:
    """Run ``write(tmp_path)`` then rename the temp file onto ``target`` (never partial).

    ``write`` may raise OutputError (an encoder that failed) or OSError (a full disk);
    either way the temp file is removed and the previous ``target`` is untouched.
    """
    target = Path(os.fspath(target))
    remove_stale_temp_files(target)
    try:
        with _HangupAsInterrupt():
            tmp = temp_beside(target)
            write(tmp)
            os.replace(tmp, target)
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    finally:
        # every temp file this process made for ``target`` (the writer's own, the audio
        # copy's): found by name, since a signal can land between a temp file's creation
        # and the line that would have remembered it
        remove_own_temp_files(target)


def remove_own_temp_files(target) -> None:
    """Delete the temp files (not folders) that this process has beside ``target``."""
    target = Path(os.fspath(target))
    prefix, suffix = _temp_affixes(target, target.suffix)
    for own in target.parent.glob(f"{glob.escape(prefix)}{os.getpid()}-*{glob.escape(suffix)}"):
        try:
            if not own.is_dir() or own.is_symlink():
                own.unlink()
        except OSError:
            pass


# --- checks made before any work -----------------------------------------------------------

def check_writable_file(path) -> Path:
    """Fail fast if a file cannot be written at ``path`` (missing or read-only folder, bad name)."""
    target = Path(os.fspath(path))
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{target}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: folder {str(parent)!r} is not writable")
    if len(os.fsencode(target.name)) > name_max(parent):  # first: stat() of such a name raises
        raise OutputError(f"{target}: file name is longer than this file system allows ({name_max(parent)} bytes)")
    if target.is_dir():
        raise OutputError(f"{target}: is a directory")
    if os.path.lexists(target) and not os.path.exists(target):
        raise OutputError(f"{target}: is a dangling symbolic link")
    if os.path.exists(target) and not os.path.isfile(target):
        raise OutputError(f"{target}: exists and is not a regular file (a pipe, socket or device)")
    return target


def check_writable_dir(path) -> Path:
    """Fail fast if a frames folder cannot be made or replaced at ``path``."""
    target = Path(os.fspath(path))
    parent = target.parent if str(target.parent) else Path(".")
    if parent.is_dir() and len(os.fsencode(target.name)) > name_max(parent) - _PID_ROOM - _TEMP_RANDOM - 8:
        raise OutputError(f"{target}: folder name is too long for this file system (the new frames are built beside it)")
    if os.path.lexists(target) and not os.path.exists(target):
        raise OutputError(f"{target}: is a dangling symbolic link")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}/: exists and is not a folder")
    if not parent.is_dir():
        raise OutputError(f"{target}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: folder {str(parent)!r} is not writable (the frames are built beside it)")
    if target.is_dir():
        if not os.access(target, os.W_OK | os.X_OK):
            raise OutputError(f"{target}: folder is not writable")
        foreign = foreign_files(target)
        if foreign:
            raise OutputError(
                f"{target}: folder holds files img2gif did not write ({', '.join(sorted(foreign)[:3])}"
                f"{' ...' if len(foreign) > 3 else ''}); give a new or empty folder"
            )
    return target


def foreign_files(folder: Path) -> list[str]:
    """Entries of ``folder`` that a previous img2gif run did not write (its marker lists them)."""
    entries = set(os.listdir(folder))
    ours = {FRAMES_MARKER}
    marker = folder / FRAMES_MARKER
    if marker.is_file():
        try:
            listed = json.loads(marker.read_text()).get("frames", [])
            ours |= {n for n in listed if isinstance(n, str)}
        except (OSError, ValueError, AttributeError):
            pass
    return sorted(entries - ours)


def _identity(path: Path):
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return None


def check_not_an_input(output, inputs, what: str = "output") -> None:
    """Refuse an output that is, or (for a folder) holds, one of the ``inputs`` (path or inode),
    or that lies inside an input folder (a frames folder, a data folder).

    Why the last: a file written inside a folder that is read as input becomes input the next
    time (a numbered name an extra source frame, any other name a refused folder)."""
    out = Path(os.fspath(output))
    out_id = _identity(out)
    out_real = Path(os.path.realpath(out))
    for source in inputs:
        if source is None:
            continue
        src = Path(os.fspath(source))
        if not os.path.exists(src):
            continue
        src_real = Path(os.path.realpath(src))
        same = src_real == out_real or (out_id is not None and _identity(src) == out_id)
        inside = out.is_dir() and out_real in src_real.parents
        if same or inside:
            relation = "is" if same else "holds"
            raise OutputError(f"{out}: the {what} {relation} the input {src}; choose another {what} path")
        if os.path.isdir(src) and src_real in out_real.parents:
            raise OutputError(f"{out}: the {what} is inside the input folder {src}; choose a path outside it")


# --- frames folders ------------------------------------------------------------------------

def replace_frames_dir(write, target) -> None:
    """Build a frames folder completely beside ``target``, then swap it in.

    The rule (checked first by :func:`check_writable_dir`): ``target`` is new, empty, or a
    folder an earlier img2gif run wrote (only the files its marker lists). The new frames
    are written to a hidden folder beside it; when all are written, the old folder is moved
    aside, the new one renamed into place and the old one removed. A failed or interrupted
    run leaves the old folder as it was; a rerun never mixes old frames with new ones.
    ``write(folder)`` writes the frames and returns their file names.
    """
    target = Path(os.fspath(target))
    check_writable_dir(target)
    remove_stale_temp_files(target)
    try:
        tmp = temp_beside(target, suffix="", directory=True)
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    old = None
    try:
        with _HangupAsInterrupt():
            names = write(tmp)
            (tmp / FRAMES_MARKER).write_text(json.dumps({"frames": list(names)}))
            os.chmod(tmp, 0o777 & ~_umask())
            if target.exists():
                check_writable_dir(target)  # nothing foreign appeared while we worked
                old = temp_beside(target, suffix="", directory=True)
                os.rmdir(old)
                os.replace(target, old)
            os.replace(tmp, target)
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    finally:
        if old is not None and old.exists():
            if target.exists():
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(old, target)  # stopped between the two renames: the previous frames go back
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
