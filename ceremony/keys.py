"""Public keys as TUF keys: from tokens, from files, to files, and their rules.

A TUF key is a securesystemslib ``SSlibKey`` (keyid computed by the
library) carrying two fields of our own: ``x-ceremony-owner``, the holder's
name that every review and status screen shows, and ``x-ceremony-uri``, the
RFC 7512 ``pkcs11:`` URI that tells the signer which token and key to ask
for.

Every key that enters a proposal passes :func:`check_public_key`: public
material only (a key file carrying a private key would be copied into the
published root), and only the key types and sizes of the design. Two
entries with different keyids can still be one public key (keytype
``ecdsa`` and its legacy alias ``ecdsa-sha2-nistp256`` hash to different
keyids): :func:`identity` names the key itself, so one token can never
count twice towards a threshold.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, unquote_to_bytes

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from securesystemslib.exceptions import FormatError
from securesystemslib.signer import Key, SSlibKey
from securesystemslib.signer._utils import compute_default_keyid

from ceremony.errors import (
    BadInput,
    DuplicateKey,
    KeyError_,
    KeyNotAllowed,
    PrivateKeyMaterial,
)
from ceremony.fsutil import read_bounded
from ceremony.metafile import loads_strict
from ceremony.text import visible

if TYPE_CHECKING:
    import pkcs11

    from ceremony.tokens import TokenKey

OWNER_FIELD = "x-ceremony-owner"
URI_FIELD = "x-ceremony-uri"
MAX_KEY_FILE = 64 * 1024

# (keytype, scheme) -> what the public key must be. "ecdsa-sha2-nistp256"
# as a keytype is the legacy spelling python-tuf clients still accept.
_EC_CURVES = {"ecdsa-sha2-nistp256": ec.SECP256R1, "ecdsa-sha2-nistp384": ec.SECP384R1}
ALLOWED_RSA_BITS = (3072, 4096)
ALLOWED_KEYS = (
    ("ecdsa", "ecdsa-sha2-nistp256"),
    ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"),
    ("ecdsa", "ecdsa-sha2-nistp384"),
    ("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"),
    ("ed25519", "ed25519"),
    ("rsa", "rsassa-pss-sha256"),
)
_ALLOWED_TEXT = "ECDSA P-256 or P-384, Ed25519, or RSA-PSS with SHA-256 of 3072 or 4096 bits"
OWNER_FIELDS = (OWNER_FIELD, "x-rstuf-key-name", "x-tuf-on-ci-keyowner")
"""Where each repository profile (ceremony.profiles) keeps the holder's name."""

# --------------------------------------------------------------------------
# RFC 7512 URIs


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of a ``pkcs11:`` URI that locate one key on one token.

    A ``module-path`` query attribute is parsed so it can be shown, but
    never used: a key URI from a key file or metadata never chooses which
    shared library this process loads.
    """

    token: str | None = None
    serial: str | None = None
    object: str | None = None
    id: bytes | None = None
    module_path: str | None = None

    def __str__(self) -> str:
        parts = []
        for name in ("token", "serial", "object"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={quote(value, safe='')}")
        if self.id is not None:
            parts.append("id=" + "".join(f"%{byte:02x}" for byte in self.id))
        text = "pkcs11:" + ";".join(parts)
        if self.module_path:
            text += "?module-path=" + quote(self.module_path, safe="/")
        return text

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        if not isinstance(text, str) or not text.startswith("pkcs11:"):
            raise BadInput(
                f"{visible(text)!s} is not a pkcs11: URI",
                "key URIs look like pkcs11:token=...;serial=...;id=...",
            )
        path, _, query = text[len("pkcs11:") :].partition("?")
        fields: dict[str, Any] = {}
        for part in filter(None, path.split(";")):
            name, sep, value = part.partition("=")
            if not sep:
                raise BadInput(
                    f"malformed pkcs11: URI attribute {visible(part)!r} in {visible(text)}",
                    "export the key again with: ceremony key export",
                )
            if name == "id":
                fields["id"] = unquote_to_bytes(value)
            elif name in ("token", "serial", "object"):
                fields[name] = unquote(value, errors="strict")
        for part in filter(None, query.split("&")):
            name, _, value = part.partition("=")
            if name == "module-path":
                fields["module_path"] = unquote(value)
        return cls(**fields)


def uri_for(token: pkcs11.Token, key: TokenKey) -> Pkcs11Uri:
    from ceremony.tokens import serial_of

    return Pkcs11Uri(
        token=token.label.strip(), serial=serial_of(token), object=key.label, id=key.key_id
    )


def uri_of(key: Key) -> Pkcs11Uri | None:
    """The key's token location, or None when it has none or it does not parse."""
    text = key.unrecognized_fields.get(URI_FIELD)
    if not isinstance(text, str):
        return None
    try:
        return Pkcs11Uri.parse(text)
    except (BadInput, UnicodeDecodeError, ValueError):
        return None


# --------------------------------------------------------------------------
# Public keys from token objects


def crypto_public_key(public: pkcs11.Object, key_type: Any) -> Any:
    """The public half as a pyca/cryptography key (see ceremony.tokens)."""
    from ceremony.tokens import crypto_public_key as convert

    return convert(public, key_type)


def tuf_key_from_token(token: pkcs11.Token, key: TokenKey, owner: str | None = None) -> SSlibKey:
    """The TUF key for an on-token key pair, with owner and URI fields."""
    from ceremony.tokens import spec_for_key

    if key.public is None:
        raise KeyError_(
            f"key {visible(key.label)!r} has no public key object on the token",
            "this tool only uses key pairs whose public half is on the token",
        )
    spec_for_key(key.public, key.key_type)  # refuses types we cannot sign with
    crypto_key = crypto_public_key(key.public, key.key_type)
    tuf_key = SSlibKey.from_crypto(crypto_key)
    fields: dict[str, Any] = {URI_FIELD: str(uri_for(token, key))}
    holder = owner or key.owner
    if holder:
        fields[OWNER_FIELD] = holder
    return SSlibKey(tuf_key.keyid, tuf_key.keytype, tuf_key.scheme, tuf_key.keyval, fields)


# --------------------------------------------------------------------------
# The rules every key in a proposal follows


def _public_object(key: Key) -> Any:
    """The public key as pyca/cryptography parses it, or KeyError_."""
    public = key.keyval.get("public") if isinstance(key.keyval, Mapping) else None
    if not isinstance(public, str):
        raise KeyError_(
            f"key {key.keyid[:8]} has no public value",
            "export the key again with: ceremony key export",
        )
    try:
        if key.keytype == "ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
        return load_pem_public_key(public.encode("ascii"))
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm) as error:
        raise KeyError_(
            f"key {key.keyid[:8]} does not hold a usable public key: {error}",
            "export the key again with: ceremony key export",
        ) from None


def _no_private(value: Any, where: str) -> None:
    """Refuse any field that carries, or is named like, private key material."""
    if isinstance(value, Mapping):
        for name, inner in value.items():
            if "private" in str(name).lower():
                raise PrivateKeyMaterial(
                    f"{where} carries private key material (field {visible(name)!r}); "
                    "it would be copied into the published metadata",
                    "give the public key only: export it with ceremony key export, "
                    "and destroy this file if the private key must stay secret",
                )
            _no_private(inner, where)
    elif isinstance(value, list):
        for inner in value:
            _no_private(inner, where)
    elif isinstance(value, str) and "PRIVATE KEY" in value:
        raise PrivateKeyMaterial(
            f"{where} holds a PEM private key",
            "give the public key only: export it with ceremony key export",
        )


def check_public_key(key: Key, where: str | None = None) -> Key:
    """Refuse a key that is not a public key of a type and size we allow."""
    where = where or f"key {key.keyid[:8]}"
    _no_private(key.to_dict(), where)
    if isinstance(key.keyval, Mapping) and set(key.keyval) != {"public"}:
        extra = ", ".join(sorted(str(k) for k in key.keyval if k != "public"))
        raise KeyNotAllowed(
            f"{where}: keyval holds more than the public key ({visible(extra)})",
            "give a TUF key whose keyval holds only 'public'",
        )
    if (key.keytype, key.scheme) not in ALLOWED_KEYS:
        raise KeyNotAllowed(
            f"{where}: key type {visible(key.keytype)!r} with scheme {visible(key.scheme)!r} "
            "is not allowed here",
            f"use {_ALLOWED_TEXT}",
        )
    public = _public_object(key)
    _check_fits(key, public, where)
    return key


def _check_fits(key: Key, public: Any, where: str) -> None:
    """The public key must be what its keytype and scheme say."""
    if key.scheme in _EC_CURVES:
        wanted = _EC_CURVES[key.scheme]
        if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
            public.curve, wanted
        ):
            got = public.curve.name if isinstance(public, ec.EllipticCurvePublicKey) else "not EC"
            raise KeyNotAllowed(
                f"{where}: scheme {key.scheme} needs a {wanted.name} key, this one is {got}",
                f"use {_ALLOWED_TEXT}",
            )
    elif key.scheme == "ed25519":
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise KeyNotAllowed(f"{where}: not an Ed25519 key", f"use {_ALLOWED_TEXT}")
    elif not isinstance(public, rsa.RSAPublicKey) or public.key_size not in ALLOWED_RSA_BITS:
        size = public.key_size if isinstance(public, rsa.RSAPublicKey) else "not RSA"
        raise KeyNotAllowed(
            f"{where}: RSA keys must have 3072 or 4096 bits, this one has {size}",
            f"use {_ALLOWED_TEXT}",
        )


def identity(key: Key) -> bytes:
    """The public key itself (DER SubjectPublicKeyInfo), whatever keyid it is filed under."""
    return bytes(_public_object(key).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def check_distinct(keys: Iterable[Key], what: str) -> None:
    """Refuse one public key listed twice for the same role, under any keyids."""
    seen: dict[bytes, Key] = {}
    for key in keys:
        ident = identity(key)
        first = seen.get(ident)
        if first is not None:
            raise DuplicateKey(
                f"{what} lists one public key twice: key {first.keyid[:8]} "
                f"({visible(owner_of(first))}) and key {key.keyid[:8]} "
                f"({visible(owner_of(key))}) are the same key; one token would count twice "
                "towards the threshold",
                "give each key once per role",
            )
        seen[ident] = key


# --------------------------------------------------------------------------
# Key files


def parse_once(key: Key) -> Key:
    """Let ``key`` load its PEM once, however many signatures it checks.

    securesystemslib parses the public key again for every verification;
    a signer checking each of its signatures, or thousands of hash bins
    sharing a delegator's keys, need not. The check itself stays
    securesystemslib's.
    """
    load = getattr(key, "_crypto_key", None)
    if callable(load) and not hasattr(load, "cache_info"):
        key._crypto_key = functools.cache(load)  # type: ignore[attr-defined]
    return key


def owner_of(key: Key) -> str:
    """The holder's name, or a short keyid when none was recorded."""
    owner = next(filter(None, (key.unrecognized_fields.get(f) for f in OWNER_FIELDS)), None)
    return str(owner) if owner else f"key {key.keyid[:8]}"


def key_to_json(key: Key) -> bytes:
    """TUF key JSON: the key dict plus its keyid, for a file."""
    document = {"keyid": key.keyid, **key.to_dict()}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


def load_key_file(path: Path, owner: str | None = None) -> SSlibKey:
    """A public key from TUF key JSON or a PEM SubjectPublicKeyInfo file."""
    path = Path(path)
    data = read_bounded(path, MAX_KEY_FILE, "key file")
    return parse_key_bytes(data, str(path), owner)


def parse_key_bytes(data: bytes, source: str, owner: str | None = None) -> SSlibKey:
    """A public key from the bytes of a key file (``source`` names it in errors)."""
    if data.lstrip().startswith((b"{", b"[")):
        key = _key_from_json(source, data)
    elif b"-----" in data or b"BEGIN" in data:
        key = _key_from_pem(source, data)
    else:
        raise BadInput(
            f"{source} is neither TUF key JSON nor a PEM public key",
            "give the file written by 'ceremony key export', or a PEM 'PUBLIC KEY'",
        )
    if owner:
        key.unrecognized_fields[OWNER_FIELD] = owner
    check_public_key(key, source)
    return key


def _key_from_pem(source: str, data: bytes) -> SSlibKey:
    labels = [label.decode() for label in _PEM_BLOCK.findall(data)]
    if any("PRIVATE" in label for label in labels):
        raise PrivateKeyMaterial(
            f"{source} holds a private key ({', '.join(labels)})",
            "give the public key only (openssl pkey -pubout), and keep the private key "
            "where it belongs",
        )
    if labels != ["PUBLIC KEY"]:
        found = ", ".join(labels) or "no complete PEM block"
        raise BadInput(
            f"{source} is not one PEM public key (found: {found})",
            "give a PEM 'PUBLIC KEY' (SubjectPublicKeyInfo) or a TUF key JSON file",
        )
    try:
        crypto_key = load_pem_public_key(data)
        return SSlibKey.from_crypto(crypto_key)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadInput(
            f"{source} is not a PEM public key we can use: {error}",
            "give a PEM 'PUBLIC KEY' (SubjectPublicKeyInfo) or a TUF key JSON file",
        ) from None


def _key_from_json(source: str, data: bytes) -> SSlibKey:
    document = loads_strict(data, source)
    if not isinstance(document, dict):
        raise BadInput(f"{source} does not hold a key object", "give a TUF key JSON file")
    _no_private(document, source)
    document = dict(document)
    given_keyid = document.pop("keyid", None)
    try:
        keyid = compute_default_keyid(document["keytype"], document["scheme"], document["keyval"])
        key = SSlibKey.from_dict(keyid, document)
    except (KeyError, TypeError, ValueError, AttributeError, FormatError) as error:
        raise BadInput(
            f"{source} is not a usable TUF public key: {visible(error)}",
            "export the key again with: ceremony key export",
        ) from None
    if given_keyid is not None and given_keyid != keyid:
        raise BadInput(
            f"{source}: keyid {visible(given_keyid)} does not match the key (its keyid is {keyid})",
            "the file was edited or corrupted; export the key again",
        )
    return key
