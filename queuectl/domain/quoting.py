"""A user's value as an error message quotes it: one line, printable, not too long.

Whatever a user typed (a newline, an escape sequence, a byte that was not
UTF-8) is shown escaped the way Python's ``repr`` shows it, so an ``Error:``
line stays one line and never drives the terminal.
"""

from __future__ import annotations

from . import defaults

_SURROGATE_ESCAPES = range(0xDC80, 0xDD00)  # bytes that were not UTF-8, as Python's surrogateescape keeps them


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped (``\\n``, ``\\x1b``, ``\\xff``)."""
    if text.isprintable():
        return text
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    if char.isprintable():
        return char
    if ord(char) in _SURROGATE_ESCAPES:
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]


def quoted(value: object, width: int = defaults.QUOTE_WIDTH) -> str:
    """A string as ``'value'``, escaped and cut to ``width`` characters (``...`` marks the cut);
    any other JSON value as its JSON word (``12``, ``null``, ``an array``)."""
    if not isinstance(value, str):
        return _describe(value)
    shown = printable(value)
    if len(shown) > width:
        shown = shown[: width - 3] + "..."
    return f"'{shown}'"


def _describe(value: object) -> str:
    """A JSON value as its JSON word: containers by their kind (never walked: they may be deep)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "a huge integer"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__
