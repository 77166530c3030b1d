"""Reading TUF metadata strictly, and the exact bytes that get signed.

python-tuf parses leniently where a ceremony must not: duplicate JSON keys
(two parsers could read two different documents), keyids that do not match
their keys (a holder would review one key and trust another). Both are
refused here, before anything else looks at the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Signature
from securesystemslib.signer._utils import compute_default_keyid
from tuf.api.metadata import Metadata, Root, Signed, Targets

from ceremony.errors import BadInput

KNOWN_TYPES = ("root", "targets", "snapshot", "timestamp")
# May match inside strings too: that only sends a document down the slow path.
_FLOATISH = re.compile(rb"[:,\[]-?[0-9]+[.eE]")
_FILE_HEAD = b'{"signatures":'
_FILE_MIDDLE = b',"signed":'

MAX_JSON_BYTES = 64 * 1024 * 1024
"""The largest metadata or key document read: room for a targets role of
some 200,000 files, far below what would exhaust the laptop's memory."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted. TUF metadata nests about
eight deep; the limit sits far below where parsing could exhaust the stack."""

_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE = re.compile(rb"\\u[d][89a-f]", re.I)


class _Float(str):
    """A number with a fraction or exponent (or NaN, Infinity), kept as text
    until the document is checked: canonical JSON has no floats."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate JSON key {name!r}")
        result[name] = value
    return result


def _refuse(source: str, problem: str) -> BadInput:
    return BadInput(
        f"{source} is not valid JSON for this tool: {problem}",
        "use the file as the tool wrote it; do not edit metadata by hand",
    )


def nesting_depth_exceeds(data: bytes, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit``.

    Counted without recursion and at C speed: escaped backslashes and
    quotes are dropped, so splitting at the quotes left puts string contents
    at the odd places; of the rest only brackets are kept, and each pass
    removes the innermost pairs, so a document of depth d is gone after d
    passes. Text that is not JSON is left to the parser to refuse.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[0::2]).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets) and _INNERMOST.search(brackets) is not None


def _first_unfit(value: Any, path: str) -> str | None:
    """Where the first float or unencodable string is, and what it is."""
    where = path or "the document"
    if isinstance(value, _Float):
        return f"{where} is the number {value}: numbers must be whole, without fraction or exponent"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where} holds an unpaired UTF-16 surrogate (\\uD800 to \\uDFFF)"
        return None
    if isinstance(value, list):
        items: Any = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    elif isinstance(value, dict):
        for name in value:
            problem = _first_unfit(name, f"a member name in {where}")
            if problem:
                return problem
        items = ((f"{path}.{name}" if path else name, item) for name, item in value.items())
    else:
        return None
    for where, item in items:
        problem = _first_unfit(item, where)
        if problem:
            return problem
    return None


def loads_strict(data: bytes, source: str, limit: int = MAX_JSON_BYTES) -> Any:
    """JSON as a ceremony accepts it, or BadInput naming the file and problem.

    Refused: more than ``limit`` bytes, text that is not UTF-8, duplicate
    keys (two parsers could read two documents), nesting deeper than
    MAX_JSON_DEPTH, floats, NaN and Infinity anywhere (canonical JSON has
    none: they could never be signed as written), unpaired surrogates.
    """
    if len(data) > limit:
        raise _refuse(source, f"it is {len(data)} bytes, more than the {limit} this tool reads")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _refuse(source, f"it is not UTF-8 text (byte {error.start})") from None
    if nesting_depth_exceeds(data, MAX_JSON_DEPTH):
        raise _refuse(source, f"arrays or objects nest deeper than {MAX_JSON_DEPTH} levels")
    unusual: list[str] = []

    def mark(number: str) -> _Float:
        unusual.append(number)
        return _Float(number)

    try:
        document = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_float=mark, parse_constant=mark
        )
    except RecursionError:
        raise _refuse(source, "arrays or objects nest too deep") from None
    except ValueError as error:
        raise _refuse(source, str(error)) from None
    if unusual or _SURROGATE_ESCAPE.search(data):
        problem = _first_unfit(document, "")
        if problem:
            raise _refuse(source, problem)
    return document


def parse_metadata(data: bytes, source: str, expected_type: str | None = None) -> Metadata:
    """TUF metadata from bytes, refusing anything a careful reader would."""
    document = loads_strict(data, source)
    if not isinstance(document, dict) or not isinstance(document.get("signed"), dict):
        raise BadInput(
            f"{source} is not TUF metadata (no 'signed' object)", "give a TUF metadata file"
        )
    kind = document["signed"].get("_type")
    if kind not in KNOWN_TYPES:
        raise BadInput(f"{source}: unknown metadata type {kind!r}", "give a TUF metadata file")
    if expected_type is not None and kind != expected_type:
        raise BadInput(
            f"{source} holds {kind} metadata, not {expected_type}",
            f"give a {expected_type} metadata file",
        )
    _check_spec_version(document["signed"].get("spec_version"), source)
    try:
        metadata = Metadata.from_dict(document)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadInput(
            f"{source} is not valid TUF {kind} metadata: {error}", "give the file the tool wrote"
        ) from None
    check_keyids(metadata, source)
    return metadata


def _check_spec_version(value: Any, source: str) -> None:
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts) or parts[0] != "1":
        raise BadInput(
            f"{source}: spec_version {value!r} is not a TUF 1.x version this tool supports",
            "only TUF specification 1.x metadata can be used",
        )


def check_keyids(metadata: Metadata | Signed, source: str) -> None:
    """Every key's id must be the one the specification computes for it."""
    signed = metadata.signed if isinstance(metadata, Metadata) else metadata
    keys: dict[str, Any] = {}
    if isinstance(signed, Root):
        keys = signed.keys
    elif isinstance(signed, Targets) and signed.delegations is not None:
        keys = signed.delegations.keys
    for keyid, key in keys.items():
        expected = compute_default_keyid(key.keytype, key.scheme, key.keyval)
        if keyid != expected:
            raise BadInput(
                f"{source}: keyid {keyid[:16]}... does not match its key "
                f"(the key's id is {expected[:16]}...)",
                "the metadata was edited or built wrongly; rebuild it with this tool",
            )


def json_text(document: Any) -> bytes:
    """Standard JSON with sorted keys and no spaces: how files hold 'signed'."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def is_canonical_text(text: bytes) -> bool:
    """Whether json_text output is also the canonical JSON of its document.

    Canonical JSON escapes only backslash and quote and has no floats; the
    standard encoder writes the same bytes whenever it escapes nothing.
    """
    return b"\\" not in text and not _FLOATISH.search(text)


def canonical(document: Any) -> bytes:
    """OLPC canonical JSON as securesystemslib defines it, fast when it can."""
    try:
        fast = json_text(document)
    except (TypeError, ValueError):
        return _encode_canonical(document)
    return fast if is_canonical_text(fast) else _encode_canonical(document)


def _encode_canonical(document: Any) -> bytes:
    text = encode_canonical(document)  # returns None only when given an output function
    assert text is not None
    return text.encode("utf-8")


def payload_bytes(metadata: Metadata) -> bytes:
    """The canonical JSON of 'signed': exactly the bytes every key signs."""
    return canonical(metadata.signed.to_dict())


def payload_sha256(metadata: Metadata) -> str:
    return hashlib.sha256(payload_bytes(metadata)).hexdigest()


def file_bytes(signatures: dict[str, Signature], signed_text: bytes) -> bytes:
    """A metadata file around 'signed' as json_text wrote it.

    For most roles that text is the canonical payload itself, so signing and
    publishing a large role never re-serialises it, and the signatures can
    be replaced without touching the rest of the file.
    """
    listed = [signatures[keyid].to_dict() for keyid in sorted(signatures)]
    return _FILE_HEAD + canonical(listed) + _FILE_MIDDLE + signed_text + b"}\n"


def to_file_bytes(metadata: Metadata) -> bytes:
    """How metadata is written to disk (see file_bytes)."""
    return file_bytes(metadata.signatures, json_text(metadata.signed.to_dict()))


def split_file(data: bytes, source: str) -> tuple[dict[str, Signature], bytes] | None:
    """Signatures and 'signed' text of a file written by file_bytes, without
    parsing 'signed'; None for any other layout."""
    if not data.startswith(_FILE_HEAD) or not data.endswith(b"}\n"):
        return None
    head = data[: 1 << 20].decode("utf-8", "replace")  # signatures are ASCII and small
    try:
        listed, end = json.JSONDecoder().raw_decode(head, len(_FILE_HEAD))
    except ValueError:
        return None
    start = len(head[:end].encode())
    if data[start : start + len(_FILE_MIDDLE)] != _FILE_MIDDLE or not isinstance(listed, list):
        return None
    try:
        signatures = {sig["keyid"]: Signature.from_dict(dict(sig)) for sig in listed}
    except (KeyError, TypeError, ValueError):
        raise BadInput(f"{source}: malformed signatures", "use the file the tool wrote") from None
    if len(signatures) != len(listed):
        raise BadInput(f"{source}: two signatures by the same key", "use the file the tool wrote")
    return signatures, data[start + len(_FILE_MIDDLE) : -2]


# ---------------------------------------------------------------- large roles


class _Irregular(ValueError):
    """Text the streaming reader leaves to the whole-document parser."""


def _irregular_number(text: str) -> Any:
    raise _Irregular(f"the number {text} is not a whole number")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_float=_irregular_number,
    parse_constant=_irregular_number,
)
_ENTRIES = "targets"
_READ_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
    BadInput,
)


@dataclass(frozen=True)
class SignedText:
    """A 'signed' document read from its exact text without building its
    target entries: ``signed`` is python-tuf's object of every other field
    (a Targets with no entries), and :meth:`entries` reads the entries from
    the text one at a time, as the JSON objects they are. A targets role of
    tens of megabytes can then be counted, judged and compared in the
    memory of a few entries, where whole objects take ten times the file.

    The entries are strict JSON but not yet TargetFiles: whoever reads an
    entry's fields has python-tuf check it (``TargetFile.from_dict``)."""

    signed: Signed
    text: str
    entries_at: int | None

    def entries(self) -> Iterator[tuple[str, Any]]:
        """Target entries as (path, JSON object), in path order."""
        if self.entries_at is None:
            return
        for path, entry, _, _ in _members(self.text, self.entries_at, MAX_JSON_DEPTH - 2):
            yield path, entry


def read_file_text(data: bytes, source: str, expected_type: str) -> SignedText | None:
    """A whole metadata file, laid out as :func:`file_bytes` writes it, read
    as :func:`read_signed_text` reads its 'signed' text; None otherwise."""
    if len(data) > MAX_JSON_BYTES:
        return None
    try:
        split = split_file(data, source)
    except BadInput:
        return None
    return read_signed_text(split[1], source, expected_type) if split is not None else None


def read_signed_text(data: bytes, source: str, expected_type: str) -> SignedText | None:
    """The 'signed' text of a root or targets document as :class:`SignedText`.

    Read only when it is compact JSON with its members in sorted order (as
    this tool and canonical JSON write it), of ``expected_type``, and passes
    every check of :func:`parse_metadata` but python-tuf's of each target
    entry (left to whoever reads the entry); None for anything else, which
    the caller then parses whole the ordinary way, with the same result or
    the same error.
    """
    if len(data) > MAX_JSON_BYTES or _SURROGATE_ESCAPE.search(data):
        return None
    try:
        text = data.decode("utf-8")
        members = list(_members(text, 0, MAX_JSON_DEPTH - 1, skip=_ENTRIES))
        if _after(text, 0, members) != len(text):
            return None
        fields = {name: {} if name == _ENTRIES else value for name, value, _, _ in members}
        entries_at = next((at for name, _, at, _ in members if name == _ENTRIES), None)
        _check_spec_version(fields.get("spec_version"), source)
        kind = fields.get("_type")
        if kind != expected_type:
            return None
        if kind == "root" and entries_at is None:
            signed: Signed = Root.from_dict(fields)
        elif kind == "targets":
            signed = Targets.from_dict(fields)
        else:
            return None
        check_keyids(signed, source)
    except _READ_ERRORS:
        return None
    return SignedText(signed, text, entries_at)


def _members(
    text: str, start: int, depth: int, skip: str | None = None
) -> Iterator[tuple[str, Any, int, int]]:
    """(name, value, where the value begins, where it ends) of the compact
    JSON object at ``start``, names strictly increasing (so never twice),
    each value decoded alone, except that the value of ``skip`` (an object)
    is walked and not kept. Raises _Irregular, or what the scanner raises,
    at anything else or at values nesting deeper than ``depth``."""
    if text[start] != "{":
        raise _Irregular("not an object")
    index, previous = start + 1, None
    if text[index] == "}":
        return
    while True:
        if text[index] != '"':
            raise _Irregular("not a member name")
        name, index = _DECODER.raw_decode(text, index)
        if (previous is not None and name <= previous) or text[index] != ":":
            raise _Irregular("members out of order")
        begin = index + 1
        if name == skip:
            value, end = None, _after(text, begin, _members(text, begin, depth - 1))
        else:
            value, end = _DECODER.raw_decode(text, begin)
            _check_depth(text, begin, end, depth)
        yield name, value, begin, end
        if text[end] == "}":
            return
        if text[end] != ",":
            raise _Irregular("members not separated by commas")
        previous, index = name, end + 1


def _after(text: str, start: int, members: Iterable[tuple[str, Any, int, int]]) -> int:
    """Where the object at ``start`` ends, once its members are read."""
    last = deque(members, maxlen=1)
    return last[0][3] + 1 if last else start + 2  # past the '}' that _members saw


def _check_depth(text: str, begin: int, end: int, depth: int) -> None:
    """loads_strict's nesting limit, costing nothing for shallow values."""
    opened = text.count("{", begin, end) + text.count("[", begin, end)
    if opened > depth and nesting_depth_exceeds(text[begin:end].encode("utf-8"), depth):
        raise _Irregular("nested too deep")
