"""Text from outside, made safe to show.

Owner names, role names, paths and URIs come from key files, metadata and
bundles that anyone could have written. Shown raw, a carriage return and an
escape sequence inside an owner name can erase the line that says a key was
added and write something else over it; a right-to-left override can make
``evil`` read as ``live``. Every front end (the command line, the app, the
printed record) shows such text through :func:`visible`, which keeps
ordinary letters of any script and writes every control, format and
bidirectional character as a visible escape.
"""

from __future__ import annotations

import unicodedata

# Format characters that change how text around them is drawn.
_BIDI_AND_INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u2028\u2029"
)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _hidden(char: str) -> bool:
    if char in _BIDI_AND_INVISIBLE:
        return True
    category = unicodedata.category(char)
    # Cc control, Cf format, Cs surrogate, Co private use, Cn unassigned,
    # Zl/Zp line and paragraph separators.
    return category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def visible(text: object) -> str:
    """``text`` with every character that could hide or move other text escaped.

    A backslash is doubled so an escape written by us cannot be confused
    with the same six characters typed into a name.
    """
    raw = str(text)
    if raw.isprintable() and "\\" not in raw:
        return raw
    out = []
    for char in raw:
        if char == "\\":
            out.append("\\\\")
        elif _hidden(char):
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


def visible_lines(text: str) -> str:
    """Like :func:`visible`, keeping the line breaks of our own messages."""
    return "\n".join(visible(line) for line in text.split("\n"))
