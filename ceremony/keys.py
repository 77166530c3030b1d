"""Public keys as TUF keys: from tokens, from files, to files.

A TUF key is a securesystemslib ``SSlibKey`` (keyid computed by the
library) carrying two fields of our own: ``x-ceremony-owner``, the holder's
name that every review and status screen shows, and ``x-ceremony-uri``, the
RFC 7512 ``pkcs11:`` URI that tells the signer which token and key to ask
for.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

import pkcs11
from asn1crypto.core import OctetString
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from pkcs11 import Attribute, KeyType
from pkcs11.util.ec import encode_ec_public_key
from securesystemslib.signer import Key, SSlibKey
from securesystemslib.signer._utils import compute_default_keyid

from ceremony.errors import BadInput
from ceremony.metafile import loads_strict
from ceremony.tokens import TokenKey, serial_of, spec_for_key

OWNER_FIELD = "x-ceremony-owner"
URI_FIELD = "x-ceremony-uri"
OWNER_FIELDS = (OWNER_FIELD, "x-rstuf-key-name", "x-tuf-on-ci-keyowner")
"""Where each repository profile (ceremony.profiles) keeps the holder's name."""

# --------------------------------------------------------------------------
# RFC 7512 URIs


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of a ``pkcs11:`` URI that locate one key on one token."""

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
        if not text.startswith("pkcs11:"):
            raise BadInput(
                f"{text!r} is not a pkcs11: URI", "key URIs look like pkcs11:token=...;id=..."
            )
        path, _, query = text[len("pkcs11:") :].partition("?")
        fields: dict[str, Any] = {}
        for part in filter(None, path.split(";")):
            name, sep, value = part.partition("=")
            if not sep or name not in ("token", "serial", "object", "id", "manufacturer", "model"):
                if not sep:
                    raise BadInput(f"malformed pkcs11: URI attribute {part!r} in {text!r}")
                continue
            if name == "id":
                fields["id"] = unquote_to_bytes(value)
            elif name in ("token", "serial", "object"):
                fields[name] = unquote(value)
        for part in filter(None, query.split("&")):
            name, _, value = part.partition("=")
            if name == "module-path":
                fields["module_path"] = unquote(value)
        return cls(**fields)


def uri_for(token: pkcs11.Token, key: TokenKey) -> Pkcs11Uri:
    return Pkcs11Uri(
        token=token.label.strip(), serial=serial_of(token), object=key.label, id=key.key_id
    )


# --------------------------------------------------------------------------
# Public keys from token objects


def crypto_public_key(public: pkcs11.Object, key_type: KeyType):
    """The public half as a pyca/cryptography key."""
    if key_type == KeyType.EC:
        return load_der_public_key(encode_ec_public_key(public))
    if key_type == KeyType.EC_EDWARDS:
        point = bytes(public[Attribute.EC_POINT])
        raw = point if len(point) == 32 else bytes(OctetString.load(point))
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if key_type == KeyType.RSA:
        modulus = int.from_bytes(public[Attribute.MODULUS], "big")
        exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    raise BadInput(f"unsupported key type {key_type.name}")


def tuf_key_from_token(token: pkcs11.Token, key: TokenKey, owner: str | None = None) -> SSlibKey:
    """The TUF key for an on-token key pair, with owner and URI fields."""
    if key.public is None:
        raise BadInput(
            f"key {key.label!r} has no public key object on the token",
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
        key._crypto_key = functools.cache(load)  # type: ignore[method-assign]
    return key


def owner_of(key: Key) -> str:
    """The holder's name, or a short keyid when none was recorded."""
    owner = next(filter(None, (key.unrecognized_fields.get(f) for f in OWNER_FIELDS)), None)
    return str(owner) if owner else f"key {key.keyid[:8]}"


def key_to_json(key: Key) -> bytes:
    """TUF key JSON: the key dict plus its keyid, for a file."""
    document = {"keyid": key.keyid, **key.to_dict()}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def load_key_file(path: Path, owner: str | None = None) -> SSlibKey:
    """A public key from TUF key JSON or a PEM SubjectPublicKeyInfo file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInput(f"cannot read key file {path}: {error.strerror}") from None
    if data.lstrip().startswith(b"-----BEGIN"):
        key = _key_from_pem(path, data)
    else:
        key = _key_from_json(path, data)
    if owner:
        key.unrecognized_fields[OWNER_FIELD] = owner
    return key


def _key_from_pem(path: Path, data: bytes) -> SSlibKey:
    try:
        crypto_key = load_pem_public_key(data)
        return SSlibKey.from_crypto(crypto_key)
    except ValueError as error:
        raise BadInput(
            f"{path} is not a PEM public key we can use: {error}",
            "give a PEM 'PUBLIC KEY' (SubjectPublicKeyInfo) or a TUF key JSON file",
        ) from None


def _key_from_json(path: Path, data: bytes) -> SSlibKey:
    document = loads_strict(data, str(path))
    if not isinstance(document, dict):
        raise BadInput(f"{path} does not hold a key object", "give a TUF key JSON file")
    document = dict(document)
    given_keyid = document.pop("keyid", None)
    try:
        keyid = compute_default_keyid(document["keytype"], document["scheme"], document["keyval"])
        key = SSlibKey.from_dict(keyid, document)
        key._crypto_key()  # parses keyval: refuses a key that cannot verify anything
    except (KeyError, TypeError, ValueError) as error:
        raise BadInput(
            f"{path} is not a usable TUF public key: {error}",
            "export the key again with: ceremony key export",
        ) from None
    if given_keyid is not None and given_keyid != keyid:
        raise BadInput(
            f"{path}: keyid {given_keyid} does not match the key (its keyid is {keyid})",
            "the file was edited or corrupted; export the key again",
        )
    return key
