"""``python -m img2gif`` and the ``img2gif`` command: Ctrl-C at any moment is exit code 130.

Importing the CLI imports torch (seconds): an interruption then must not be a traceback.
"""
import os
import sys


def main() -> None:
    try:
        from .cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        try:
            sys.stderr.write("interrupted; no output written\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        os._exit(130)  # not sys.exit: see cli._exit_interrupted


if __name__ == "__main__":
    main()
