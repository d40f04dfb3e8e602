"""Text from files and libraries made safe to print on a terminal.

Paths, titles and error messages come from files a stranger may have made: an escape sequence
in one can clear the screen or rewrite earlier lines, and a newline breaks the promise of one
line per failure. Every human-readable line the command line prints goes through ``printable``.
"""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, and the bidirectional overrides that reorder what follows them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` on one line with every control character shown as an escape (``\\x1b``, ``\\x0a``);
    bytes that are not UTF-8 shown as replacement characters."""
    from engine.workspace import display

    return _UNSAFE.sub(_escaped, display(text))
