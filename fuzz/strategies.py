"""Hypothesis strategies for hostile inputs to each parser of outside data.

Each parser gets three kinds of input: well-formed documents as the tool
or python-tuf writes them (which must be accepted), the same with one
value replaced, a member added or removed, or the bytes damaged (which must
be refused in words or accepted whole), and plain random bytes.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from hypothesis import strategies as st
from securesystemslib.signer import SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from ceremony.config import DEFAULT_EXPIRY_DAYS, EXPIRY_DAYS_RANGE, PROFILES, Config

# --------------------------------------------------------------------------
# Shared pieces

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` truncated, with bytes flipped, inserted or removed, or wrapped deep."""
    size = max(len(data), 1)
    cut = st.integers(0, size).map(lambda n: data[:n])
    flip = st.tuples(st.integers(0, size - 1), st.integers(1, 255)).map(
        lambda t: data[: t[0]] + bytes([data[t[0]] ^ t[1]]) + data[t[0] + 1 :] if data else b""
    )
    insert = st.tuples(st.integers(0, size), st.binary(min_size=1, max_size=8)).map(
        lambda t: data[: t[0]] + t[1] + data[t[0] :]
    )
    remove = st.tuples(st.integers(0, size), st.integers(1, 16)).map(
        lambda t: data[: t[0]] + data[t[0] + t[1] :]
    )
    deep = st.integers(60, 5000).map(lambda n: b"[" * n + data + b"]" * n)
    return cut | flip | insert | remove | deep


def _paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one value replaced, or one member added or removed."""
    document = json.loads(json.dumps(document))
    path = draw(st.sampled_from(_paths(document)))
    if not path:
        return draw(JSON_VALUES)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace":
        parent[last] = draw(JSON_VALUES)
    elif action == "remove":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=10))] = draw(JSON_VALUES)
    else:
        parent.append(draw(JSON_VALUES))
    return document


def as_json(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------
# Keys


@functools.cache
def private_keys() -> dict[str, Any]:
    """One private key of each kind a holder might bring (made once)."""
    return {
        "ecdsa-p256": ec.generate_private_key(ec.SECP256R1()),
        "ecdsa-p384": ec.generate_private_key(ec.SECP384R1()),
        "ecdsa-p521": ec.generate_private_key(ec.SECP521R1()),
        "ecdsa-k1": ec.generate_private_key(ec.SECP256K1()),
        "rsa-2048": rsa.generate_private_key(65537, 2048),
        "rsa-3072": rsa.generate_private_key(65537, 3072),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
        "x25519": x25519.X25519PrivateKey.generate(),
        "dsa": dsa.generate_private_key(1024),
    }


USABLE = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072")


@functools.cache
def tuf_keys() -> list[SSlibKey]:
    return [SSlibKey.from_crypto(private_keys()[name].public_key()) for name in USABLE]


def public_pem(name: str) -> bytes:
    return (
        private_keys()[name]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def private_pem(name: str) -> bytes:
    return private_keys()[name].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def key_json(key: SSlibKey) -> dict[str, Any]:
    return json.loads(json.dumps({"keyid": key.keyid, **key.to_dict()}))


@st.composite
def key_files(draw: st.DrawFn) -> bytes:
    """Key files: JSON and PEM, good, damaged, mixed with private keys."""
    names = sorted(private_keys())
    kind = draw(st.sampled_from(["json", "json-mutated", "pem", "pem-damaged", "pem-mixed", "raw"]))
    if kind.startswith("json"):
        document = key_json(draw(st.sampled_from(tuf_keys())))
        if kind == "json-mutated":
            document = draw(mutated(document))
        return as_json(document)
    if kind == "raw":
        return b"-----BEGIN PUBLIC KEY-----\n" + draw(st.binary(max_size=200))
    pem = public_pem(draw(st.sampled_from(names)))
    if kind == "pem-damaged":
        return draw(damaged(pem))
    if kind == "pem-mixed":
        other = private_pem(draw(st.sampled_from(names)))
        return draw(st.sampled_from([pem + other, other + pem, pem + pem]))
    return pem


# --------------------------------------------------------------------------
# Metadata

_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)
EXPIRES = st.integers(-(10**6), 10**6).map(lambda s: _EPOCH + timedelta(minutes=s))
VERSIONS = st.integers(1, 2**40)
NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)


@st.composite
def root_documents(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(tuf_keys()), min_size=1, max_size=4, unique_by=id))
    root = Root(version=draw(VERSIONS), expires=draw(EXPIRES), consistent_snapshot=True)
    for key in keys:
        root.keys[key.keyid] = key
    for name in ("root", "targets", "snapshot", "timestamp"):
        chosen = draw(st.lists(st.sampled_from(keys), min_size=1, unique_by=id))
        root.roles[name] = Role([k.keyid for k in chosen], draw(st.integers(1, len(chosen))))
    return Metadata(root).to_dict()


@st.composite
def targets_documents(draw: st.DrawFn) -> dict[str, Any]:
    targets = Targets(version=draw(VERSIONS), expires=draw(EXPIRES))
    for name in draw(st.lists(NAMES, max_size=4, unique=True)):
        length = draw(st.integers(0, 2**40))
        targets.targets[name] = TargetFile(length, {"sha256": "ab" * 32}, name)
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(tuf_keys()), min_size=1, max_size=2, unique_by=id))
        role = DelegatedRole(
            draw(NAMES), [k.keyid for k in keys], 1, draw(st.booleans()), paths=["*"]
        )
        targets.delegations = Delegations({k.keyid: k for k in keys}, roles={role.name: role})
    return Metadata(targets).to_dict()


@st.composite
def online_documents(draw: st.DrawFn) -> dict[str, Any]:
    version, expires = draw(VERSIONS), draw(EXPIRES)
    if draw(st.booleans()):
        signed: Any = Snapshot(version=version, expires=expires)
        signed.meta["targets.json"] = MetaFile(draw(VERSIONS))
    else:
        signed = Timestamp(version=version, expires=expires)
        signed.snapshot_meta = MetaFile(draw(VERSIONS))
    return Metadata(signed).to_dict()


def _fresh(document: dict[str, Any]) -> dict[str, Any]:
    """A deep copy: to_dict shares the keys' own dicts, which must stay intact."""
    return json.loads(json.dumps(document))


GOOD_METADATA = (root_documents() | targets_documents() | online_documents()).map(_fresh)


@st.composite
def metadata_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["good", "mutated", "damaged", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=300))
    document = draw(GOOD_METADATA)
    if kind == "mutated":
        return as_json(draw(mutated(document)))
    data = as_json(document)
    return draw(damaged(data)) if kind == "damaged" else data


# --------------------------------------------------------------------------
# ceremony.toml

SECTIONS = ("repository", "pkcs11", "expiry_days", "owners")
KNOWN_KEYS = ("name", "profile", "module", "root", "targets", "snapshot", "timestamp")
TOML_SCALARS = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.datetimes(timezones=st.just(UTC))
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _toml_key(text: str) -> str:
    return json.dumps(text, ensure_ascii=True)


def toml_value(value: Any) -> str:
    """TOML text for a value (JSON string escapes are valid TOML ones)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def good_configs(draw: st.DrawFn) -> Config:
    low, high = EXPIRY_DAYS_RANGE
    roles = st.text(min_size=1, max_size=12)
    return Config(
        repository=draw(st.text(min_size=1, max_size=30).filter(str.strip)),
        profile=draw(st.sampled_from(PROFILES)),
        module=draw(st.none() | st.text(max_size=20).map(lambda t: "/" + t.replace("\0", ""))),
        expiry_days={
            **DEFAULT_EXPIRY_DAYS,
            **draw(st.dictionaries(roles, st.integers(low, high), max_size=3)),
        },
        owners=draw(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3)),
    )


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["good", "tables", "damaged", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=300))
    if kind == "good":
        return draw(good_configs()).to_toml().encode()
    if kind == "damaged":
        return draw(damaged(draw(good_configs()).to_toml().encode()))
    lines = []
    section_names = st.sampled_from(SECTIONS) | st.text(min_size=1, max_size=8)
    for section in draw(st.lists(section_names, max_size=4, unique=True)):
        lines.append(f"[{_toml_key(section)}]")
        keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8)
        for key in draw(st.lists(keys, max_size=4, unique=True)):
            lines.append(f"{_toml_key(key)} = {toml_value(draw(TOML_VALUES))}")
    return "\n".join(lines).encode()


# --------------------------------------------------------------------------
# PIN files

PIN_TEXT = st.text(st.characters(codec="utf-8"), min_size=0, max_size=40)
PIN_FILES = (
    PIN_TEXT.map(lambda t: t.encode())
    | st.tuples(PIN_TEXT, st.sampled_from(["", "\n", "\r\n", "\n\n"])).map(
        lambda t: (t[0] + t[1]).encode()
    )
    | st.binary(max_size=64)
    | st.binary(min_size=1000, max_size=1100)
)
