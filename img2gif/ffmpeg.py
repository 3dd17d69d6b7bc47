"""The ffmpeg binary imageio-ffmpeg ships, and one way of running it: frames in through a
pipe, results out through a pipe, ffmpeg's own messages kept off the terminal."""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading

from .errors import OutputError


def find() -> str | None:
    """The ffmpeg executable, or None where imageio-ffmpeg has no binary for this platform
    (the writers then take their Pillow paths)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001  any failure to find it means: no ffmpeg
        return None


def input_name(path) -> str:
    """``path`` as ffmpeg must be given it: always the file of that name. Why: ffmpeg reads a
    name as a URL ("concat:a.mp4|b.mp4", "http://host/x.mp4", "pipe:0.mp4" read other data
    than the file named); the file protocol and an absolute path leave nothing to read into it."""
    return "file:" + os.path.abspath(os.fspath(path))


def has_encoder(name: str) -> bool:
    """Whether this ffmpeg build has the encoder ``name`` (libx265, libwebp_anim ...)."""
    exe = find()
    if exe is None:
        return False
    try:
        listed = subprocess.run([exe, "-hide_banner", "-nostdin", "-encoders"], capture_output=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.split()[1:2] == [name] for line in listed.decode(errors="replace").splitlines() if line.strip())


def run(cmd: list[str], chunks, read_bytes: int | None = None, on_output=None, in_flight: int | None = None) -> None:
    """Run ffmpeg feeding ``chunks`` (bytes) to stdin from a thread; ``on_output(block)`` gets
    stdout in blocks of ``read_bytes``. ffmpeg's own messages never reach the terminal: they
    are kept and, if ffmpeg fails, their last line is the error.

    ``in_flight``: when each chunk gives one block, at most this many chunks are fed ahead of
    the blocks read back. Why: ffmpeg queues whatever it is given, so without it a fast
    renderer and a slow reader leave the whole animation buffered inside ffmpeg.
    """
    window = threading.Semaphore(in_flight) if (read_bytes and in_flight) else None
    stop = threading.Event()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE if read_bytes else subprocess.DEVNULL,
                                stderr=log)
        failure = []

        def feed():
            try:
                for chunk in chunks:
                    waited = 0.0
                    # a soft window: if ffmpeg wants more frames before it answers (probing,
                    # buffering), it gets them after 2 s; the feeder never waits on it forever
                    while window is not None and waited < 2.0 and not window.acquire(timeout=0.1):
                        waited += 0.1
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    proc.stdin.write(chunk)
            except (BrokenPipeError, OSError):  # ffmpeg stopped: its exit status says why
                pass
            except BaseException as exc:  # noqa: BLE001  re-raised in the main thread
                failure.append(exc)
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            if read_bytes:
                while True:
                    block = proc.stdout.read(read_bytes)
                    if not block:
                        break
                    if len(block) != read_bytes:
                        raise OutputError(f"ffmpeg returned a partial frame ({len(block)} of {read_bytes} bytes)")
                    on_output(block)
                    if window is not None:
                        window.release()
            feeder.join()
            code = proc.wait()
        except BaseException:
            stop.set()
            proc.kill()
            proc.wait()
            feeder.join()
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        if failure:
            raise failure[0]
        if code != 0:
            log.seek(0)
            lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
            # "[out#0/mp4 @ 0x55d8...] Error closing file: ..." says no more without its prefix
            last = re.sub(r"^\[[^\]]*\]\s*", "", lines[-1]) if lines else "no message"
            raise OutputError(f"ffmpeg failed (exit status {code}): {last[:200]}")


def raw_frames(frames):
    """(H, W, 3) uint8 frames as rgb24 bytes, one chunk each."""
    import numpy as np

    for frame in frames:
        yield np.ascontiguousarray(frame, dtype=np.uint8).tobytes()
