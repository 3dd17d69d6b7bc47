"""Text that came from a file or a file name, made safe to print on a terminal.

A crafted name or checkpoint string can hold terminal escapes (set the window title,
write the clipboard with OSC 52, clear the screen) or bidirectional overrides that make
text read differently than it is. Everything printed that came from outside goes through
:func:`safe_text` first: control characters are shown as visible escapes (``\\x1b``).
"""
from __future__ import annotations

import re

# C0 controls (tab and newline too: one message is one line), DEL, C1 controls, and the
# Unicode bidirectional embedding/override/isolate characters.
# Lone surrogates too: a file name that is not UTF-8 holds them (its bytes, as Python decodes
# them), and no terminal encoding can print them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_text(value) -> str:
    """``str(value)`` with every control character written as a visible escape."""
    text = str(value)
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that is not UTF-8: shown as that byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
