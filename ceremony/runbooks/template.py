"""Variables in runbook text: ``{name}``, ``{token.{holder}}``, and lists of names.

A runbook names what earlier steps found (``{holders}``, typed at the
start) and what actions made (``{key.{holder}}``, a holder's keyid): a
reference is a dotted path whose parts may themselves be references, one
level deep. Values are text, whole numbers or lists of names (shown
joined by commas). Names typed by people become file names and labels, so
:func:`parse_names` allows letters, digits, spaces and ``.-_'`` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ceremony.errors import BadInput
from ceremony.text import visible

WORD = r"[a-z][a-z0-9_-]*"
_PART = rf"(?:[a-z0-9_-]+|\{{{WORD}\}})"
REFERENCE = re.compile(rf"\{{({WORD}(?:\.{_PART})*)\}}")
"""``{path}``: a word, then ``.part`` where a part is a word or ``{word}``."""
_INNER = re.compile(rf"\{{({WORD})\}}")
_NAME = re.compile(r"^[^\W_][\w .'-]{0,63}$")

Value = str | int | list[str]


def references(text: str) -> Iterator[str]:
    """Each reference in ``text`` as a pattern: inner references become ``*``."""
    for match in REFERENCE.finditer(text):
        yield _INNER.sub("*", match.group(1))


def inner_names(text: str) -> Iterator[str]:
    """The plain variables used inside references (``holder`` in ``{key.{holder}}``)."""
    for match in REFERENCE.finditer(text):
        yield from _INNER.findall(match.group(1))


def stray_brace(text: str) -> bool:
    """True when a brace is left that is not part of a reference: a typo."""
    rest = REFERENCE.sub("", text)
    return "{" in rest or "}" in rest


def pattern_matches(pattern: str, defined: str) -> bool:
    """Whether reference pattern ``a.*`` can be a variable defined as ``a.*`` or ``a.x``."""
    left, right = pattern.split("."), defined.split(".")
    if len(left) != len(right):
        return False
    return all(a == b or "*" in (a, b) for a, b in zip(left, right, strict=True))


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def resolve(path: str, values: Mapping[str, Any]) -> str:
    """The name a reference path stands for, its inner references filled in."""
    return _INNER.sub(lambda m: as_text(values.get(m.group(1))), path)


def lookup(path: str, values: Mapping[str, Any]) -> Any:
    """The value of a reference path; a variable no step has set yet is empty."""
    return values.get(resolve(path, values))


def render(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with every reference replaced by its value."""
    return REFERENCE.sub(lambda m: as_text(lookup(m.group(1), values)), text)


def render_value(text: str, values: Mapping[str, Any]) -> Any:
    """A parameter's value: a lone reference keeps its type (a list stays a list)."""
    match = REFERENCE.fullmatch(text.strip())
    if match:
        return lookup(match.group(1), values)
    return render(text, values)


def parse_names(text: Any, what: str = "names") -> list[str]:
    """A list of names from a list or from comma-separated text; each checked."""
    items = text if isinstance(text, list | tuple) else str(text or "").split(",")
    names: list[str] = []
    for item in items:
        name = str(item).strip()
        if not name:
            continue
        if not _NAME.match(name):
            raise BadInput(
                f"{visible(name)!r} is not usable as a name ({visible(what)})",
                "use letters, digits, spaces and . - _ ' only (at most 64), separated by commas",
            )
        if name not in names:
            names.append(name)
    return names


def parse_list(text: Any, what: str = "values") -> list[str]:
    """Comma-separated values of any printable text (path patterns, say)."""
    items = text if isinstance(text, list | tuple) else str(text or "").split(",")
    values: list[str] = []
    for item in items:
        value = str(item).strip()
        if not value:
            continue
        if visible(value) != value or len(value) > 200:
            raise BadInput(
                f"{visible(value)!r} is not usable in {visible(what)}",
                "type printable text only, at most 200 characters per item",
            )
        if value not in values:
            values.append(value)
    return values


def parse_number(text: Any, what: str) -> int:
    raw = str(text).strip()
    if not raw.isdigit() or len(raw) > 6:
        raise BadInput(f"{what} {visible(raw)!r} is not a whole number", "type digits only")
    return int(raw)


def parse_yes_no(text: Any, what: str) -> bool:
    raw = str(text).strip().lower()
    if raw in ("yes", "y", "true"):
        return True
    if raw in ("no", "n", "false", ""):
        return False
    raise BadInput(f"{what} must be yes or no, not {visible(raw)!r}", "answer yes or no")
