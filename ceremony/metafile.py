"""Reading TUF metadata strictly, and the exact bytes that get signed.

python-tuf parses leniently where a ceremony must not: duplicate JSON keys
(two parsers could read two different documents), keyids that do not match
their keys (a holder would review one key and trust another). Both are
refused here, before anything else looks at the file.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from securesystemslib.signer._utils import compute_default_keyid
from tuf.api.metadata import Metadata, Root, Targets
from tuf.api.serialization.json import CanonicalJSONSerializer, JSONSerializer

from ceremony.errors import BadInput

KNOWN_TYPES = ("root", "targets", "snapshot", "timestamp")
TOP_LEVEL = KNOWN_TYPES


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate JSON key {name!r}")
        result[name] = value
    return result


def loads_strict(data: bytes, source: str) -> Any:
    """JSON that refuses duplicate keys, with an error naming the file."""
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInput(
            f"{source} is not valid JSON: {error}",
            "use the file as the tool wrote it; do not edit metadata by hand",
        ) from None


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
        raise BadInput(f"{source} holds {kind} metadata, not {expected_type}")
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


def check_keyids(metadata: Metadata, source: str) -> None:
    """Every key's id must be the one the specification computes for it."""
    signed = metadata.signed
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


def payload_bytes(metadata: Metadata) -> bytes:
    """The canonical JSON of 'signed': exactly the bytes every key signs."""
    return CanonicalJSONSerializer().serialize(metadata.signed)


def payload_sha256(metadata: Metadata) -> str:
    return hashlib.sha256(payload_bytes(metadata)).hexdigest()


def to_file_bytes(metadata: Metadata) -> bytes:
    """How metadata is written to disk: readable, stable, newline-terminated."""
    return JSONSerializer(compact=False).serialize(metadata) + b"\n"
