"""Key attestation: proof from the device maker that a key was born on a device.

A YubiKey signs, with a device key Yubico certified at the factory, a
certificate for every key it generates (PIV attestation): the key's public
half, the device's serial and firmware, and the PIN and touch policies the
key can never lose (Yubico's extensions under 1.3.6.1.4.1.41482.3). ykcs11
shows that certificate as a certificate object beside the key, and the
device certificate (slot f9) as another. Checking the chain up to Yubico's
PIV root CA answers what CKA_LOCAL cannot on a PIV card: was this key made
inside a genuine device, and with which policies?

``attest_public_key`` checks certificates already read; ``from_token``
reads them from a token without a login (they are public objects);
``record`` is the dict kept in the transcript and, keyed by keyid, in
root's ``x-ceremony-attestations``, and ``check_record`` re-checks such a
record later, offline, from the metadata alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute, ObjectClass
from securesystemslib.signer import Key, SSlibKey

from ceremony.errors import BadInput
from ceremony.fsutil import read_bounded
from ceremony.keys import crypto_public_key

YUBICO_ARC = "1.3.6.1.4.1.41482.3"
OID_FIRMWARE = x509.ObjectIdentifier(f"{YUBICO_ARC}.3")
OID_SERIAL = x509.ObjectIdentifier(f"{YUBICO_ARC}.7")
OID_POLICY = x509.ObjectIdentifier(f"{YUBICO_ARC}.8")
OID_FORM_FACTOR = x509.ObjectIdentifier(f"{YUBICO_ARC}.9")
PIN_POLICIES = {1: "never", 2: "once", 3: "always", 4: "match-once", 5: "match-always"}
TOUCH_POLICIES = {1: "never", 2: "always", 3: "cached"}
ATTESTATIONS_FIELD = "x-ceremony-attestations"
CA_FILE_LIMIT = 1024 * 1024
MAX_CHAIN = 4

VERIFIED = "verified"
MISSING = "missing"
WRONG_CHAIN = "wrong-chain"
KEY_MISMATCH = "key-mismatch"
DEVICE_MISMATCH = "device-mismatch"
POLICY_NOT_MET = "policy-not-met"


@dataclass(frozen=True)
class Requirements:
    """What the attestation must show besides a good chain."""

    serial: int | None = None
    firmware: str | None = None
    """"major.minor" (or with patch): the attested firmware must start with it."""
    pin_policies: tuple[str, ...] = ("once", "always", "match-once", "match-always")
    touch_policies: tuple[str, ...] = ("never", "always", "cached")


@dataclass
class Attestation:
    """The outcome, in words, with what the certificate says."""

    status: str
    problem: str = ""
    keyid: str | None = None
    serial: int | None = None
    firmware: str | None = None
    pin_policy: str | None = None
    touch_policy: str | None = None
    form_factor: int | None = None
    chain: list[str] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)
    root_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == VERIFIED

    def describe(self) -> str:
        if not self.ok:
            return f"{self.status}: {self.problem}"
        return (
            f"verified: device serial {self.serial}, firmware {self.firmware}, "
            f"PIN policy {self.pin_policy}, touch policy {self.touch_policy}; "
            f"chain {' <- '.join(reversed(self.chain))}"
        )


@dataclass(frozen=True)
class TokenCertificate:
    label: str
    key_id: bytes
    der: bytes


# --------------------------------------------------------------------------
# Trust anchors


def load_roots(path: Path) -> list[x509.Certificate]:
    """The root CA certificate(s) in a PEM file."""
    data = read_bounded(Path(path), CA_FILE_LIMIT, "root CA file")
    try:
        roots = x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise BadInput(
            f"{path} holds no PEM certificate: {error}",
            "give the device maker's root CA certificate in PEM form",
        ) from None
    return roots


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


# --------------------------------------------------------------------------
# Reading the certificate


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def _der_integer(raw: bytes) -> int:
    """Yubico encodes the serial as a DER INTEGER; accept bare bytes too."""
    if len(raw) >= 2 and raw[0] == 0x02 and raw[1] == len(raw) - 2:
        raw = raw[2:]
    return int.from_bytes(raw, "big")


def _facts(cert: x509.Certificate, result: Attestation) -> None:
    firmware = _extension(cert, OID_FIRMWARE)
    if firmware is not None and len(firmware) == 3:
        result.firmware = ".".join(str(b) for b in firmware)
    serial = _extension(cert, OID_SERIAL)
    if serial:
        result.serial = _der_integer(serial)
    policy = _extension(cert, OID_POLICY)
    if policy is not None and len(policy) >= 2:
        result.pin_policy = PIN_POLICIES.get(policy[0], f"unknown ({policy[0]})")
        result.touch_policy = TOUCH_POLICIES.get(policy[1], f"unknown ({policy[1]})")
    form = _extension(cert, OID_FORM_FACTOR)
    if form:
        result.form_factor = form[0]


def _is_attestation(label: str, cert: x509.Certificate) -> bool:
    return "attestation" in label.lower() or _extension(cert, OID_FIRMWARE) is not None


def _spki(public_key: Any) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


# --------------------------------------------------------------------------
# Checking


def _chain_to_root(
    leaf: x509.Certificate,
    pool: list[x509.Certificate],
    roots: list[x509.Certificate],
    now: datetime,
) -> tuple[list[x509.Certificate], x509.Certificate]:
    """Leaf, intermediates and the trusted root that signed them; or ValueError."""
    chain = [leaf]
    current = leaf
    for _ in range(MAX_CHAIN):
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            raise ValueError(f"certificate {current.subject.rfc4514_string()} is not valid now")
        for root in roots:
            if _issued_by(current, root):
                return chain, root
        issuers = [c for c in pool if c not in chain and _issued_by(current, c)]
        if not issuers:
            raise ValueError(
                f"no trusted root CA or intermediate signed "
                f"{current.subject.rfc4514_string()} (issuer {current.issuer.rfc4514_string()})"
            )
        current = issuers[0]
        chain.append(current)
    raise ValueError("the certificate chain is longer than any device maker's")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def attest_public_key(
    public_key: Any,
    beside: list[tuple[str, bytes]],
    pool: list[bytes],
    roots: list[x509.Certificate],
    requirements: Requirements | None = None,
    now: datetime | None = None,
) -> Attestation:
    """Judge the attestation of ``public_key`` (a pyca key).

    ``beside`` holds the labelled DER certificates stored with the key (same
    CKA_ID); the attestation is the one among them that is labelled or
    extended as one. ``pool`` holds every other certificate that may be an
    intermediate (the device's f9 certificate), ``roots`` the trust anchors.
    """
    requirements = requirements or Requirements()
    now = now or datetime.now(UTC)
    keyid = SSlibKey.from_crypto(public_key).keyid
    candidates = [c for label, c in _parse(beside) if _is_attestation(label, c)]
    if not candidates:
        return Attestation(
            MISSING, f"no attestation certificate is stored with key {keyid[:8]}", keyid
        )
    mine = [c for c in candidates if _spki(c.public_key()) == _spki(public_key)]
    if not mine:
        return Attestation(
            KEY_MISMATCH,
            f"the attestation certificate stored with key {keyid[:8]} certifies another "
            "public key: the key on the token is not the one the device attested",
            keyid,
        )
    intermediates = [c for _label, c in _parse([("", der) for der in pool])]
    return _judge(mine[0], intermediates + candidates, roots, requirements, now, keyid)


def _parse(certificates: list[tuple[str, bytes]]) -> list[tuple[str, x509.Certificate]]:
    parsed = []
    for label, der in certificates:
        try:
            parsed.append((label, x509.load_der_x509_certificate(der)))
        except ValueError:
            continue
    return parsed


def _judge(
    leaf: x509.Certificate,
    pool: list[x509.Certificate],
    roots: list[x509.Certificate],
    requirements: Requirements,
    now: datetime,
    keyid: str,
) -> Attestation:
    result = Attestation(VERIFIED, keyid=keyid)
    _facts(leaf, result)
    try:
        chain, root = _chain_to_root(leaf, pool, roots, now)
    except ValueError as error:
        result.status, result.problem = WRONG_CHAIN, str(error)
        result.certificates = [leaf.public_bytes(Encoding.DER)]
        return result
    result.chain = [c.subject.rfc4514_string() for c in [*chain, root]]
    result.certificates = [c.public_bytes(Encoding.DER) for c in chain]
    result.root_sha256 = fingerprint(root)
    _check_requirements(result, requirements)
    return result


def _check_requirements(result: Attestation, requirements: Requirements) -> None:
    if requirements.serial is not None and result.serial != requirements.serial:
        result.status = DEVICE_MISMATCH
        result.problem = (
            f"the attestation is for device serial {result.serial}, "
            f"not {requirements.serial} (the token in hand)"
        )
    elif requirements.firmware and not (result.firmware or "").startswith(requirements.firmware):
        result.status = DEVICE_MISMATCH
        result.problem = (
            f"the attestation names firmware {result.firmware}, the token reports "
            f"{requirements.firmware}"
        )
    elif result.pin_policy not in requirements.pin_policies:
        result.status = POLICY_NOT_MET
        result.problem = f"the key's PIN policy is {result.pin_policy}"
    elif result.touch_policy not in requirements.touch_policies:
        result.status = POLICY_NOT_MET
        result.problem = (
            f"the key's touch policy is {result.touch_policy}; "
            f"required: {', '.join(requirements.touch_policies)}"
        )


# --------------------------------------------------------------------------
# Tokens


def token_certificates(session: pkcs11.Session) -> list[TokenCertificate]:
    """Every X.509 certificate object the token shows (no login needed)."""
    found = []
    for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
        try:
            der = bytes(obj[Attribute.VALUE])
        except pkcs11.exceptions.PKCS11Error:
            continue
        label = str(_attribute(obj, Attribute.LABEL) or "")
        key_id = bytes(_attribute(obj, Attribute.ID) or b"")
        found.append(TokenCertificate(label, key_id, der))
    return found


def _attribute(obj: pkcs11.Object, attribute: Attribute) -> Any:
    try:
        return obj[attribute]
    except pkcs11.exceptions.PKCS11Error:
        return None


def public_keys(session: pkcs11.Session) -> list[tuple[str, bytes, Any]]:
    """(label, CKA_ID, pyca public key) of every public key object."""
    found = []
    for obj in session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY}):
        try:
            key = crypto_public_key(obj, obj[Attribute.KEY_TYPE])
        except (BadInput, pkcs11.exceptions.PKCS11Error, ValueError):
            continue
        found.append((str(_attribute(obj, Attribute.LABEL) or ""), bytes(obj[Attribute.ID]), key))
    return found


def from_token(
    token: pkcs11.Token,
    roots: list[x509.Certificate],
    requirements: Requirements | None = None,
    key_label: str | None = None,
) -> list[tuple[str, Attestation]]:
    """Attest every key on ``token`` (or the one labelled): (label, outcome)."""
    with token.open() as session:
        certificates = token_certificates(session)
        keys = public_keys(session)
    if key_label is not None:
        keys = [k for k in keys if k[0] == key_label]
        if not keys:
            raise BadInput(
                f"no public key labelled {key_label!r} on token {token.label.strip()!r}",
                "check the label with: ceremony key list",
            )
    results = []
    for label, key_id, key in keys:
        beside = [(c.label, c.der) for c in certificates if c.key_id == key_id]
        pool = [c.der for c in certificates if c.key_id != key_id]
        results.append((label, attest_public_key(key, beside, pool, roots, requirements)))
    return results


# --------------------------------------------------------------------------
# Records: transcript and root's x-ceremony-attestations


def record(result: Attestation) -> dict[str, Any]:
    """What the transcript keeps, and root's ``x-ceremony-attestations[keyid]``."""
    return {
        "status": result.status,
        "problem": result.problem,
        "serial": result.serial,
        "firmware": result.firmware,
        "pin_policy": result.pin_policy,
        "touch_policy": result.touch_policy,
        "form_factor": result.form_factor,
        "chain": list(result.chain),
        "certificates": [
            x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()
            for der in result.certificates
        ],
        "root_sha256": result.root_sha256,
    }


def attestations_field(results: dict[str, Attestation]) -> dict[str, dict[str, Any]]:
    """``{keyid: record}`` for the top of root's ``signed`` (never on keys:
    RSTUF drops fields on keys, and that breaks signatures)."""
    return {keyid: record(result) for keyid, result in sorted(results.items())}


def check_record(
    entry: Any,
    key: Key,
    roots: list[x509.Certificate],
    requirements: Requirements | None = None,
    now: datetime | None = None,
) -> Attestation:
    """Re-check a recorded attestation for a TUF key, from the record alone."""
    if not isinstance(entry, dict) or not isinstance(entry.get("certificates"), list):
        return Attestation(MISSING, f"no attestation is recorded for key {key.keyid[:8]}")
    ders = []
    for pem in entry["certificates"]:
        try:
            ders.append(
                x509.load_pem_x509_certificate(str(pem).encode()).public_bytes(Encoding.DER)
            )
        except ValueError:
            continue
    try:
        public = key._crypto_key()  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return Attestation(MISSING, f"key {key.keyid[:8]} is not a key this tool can read")
    beside = [("attestation", der) for der in ders[:1]]
    return attest_public_key(public, beside, ders[1:], roots, requirements, now)


def check_root(
    signed: dict[str, Any],
    roots: list[x509.Certificate],
    requirements: Requirements | None = None,
) -> dict[str, Attestation]:
    """Re-check every attestation recorded in a root's ``signed`` dict."""
    from tuf.api.metadata import Root

    root = Root.from_dict(dict(signed))
    recorded = signed.get(ATTESTATIONS_FIELD) or {}
    if not isinstance(recorded, dict):
        raise BadInput(
            f"{ATTESTATIONS_FIELD} in the root is not an object",
            "the root was edited or built wrongly; do not trust its attestations",
        )
    results = {}
    for keyid, entry in recorded.items():
        key = root.keys.get(keyid)
        if key is None:
            results[keyid] = Attestation(MISSING, f"key {keyid[:8]} is not in this root", keyid)
            continue
        results[keyid] = check_record(entry, key, roots, requirements)
    return results


# --------------------------------------------------------------------------
# Kept in the workspace, named in the next root

KEPT_DIR = "attestations"


def keep(keys_dir: Path, result: Attestation) -> Path:
    """Keep a verified attestation beside the public keys, by keyid."""
    import json

    from ceremony.fsutil import write_atomic

    assert result.keyid is not None
    path = Path(keys_dir) / KEPT_DIR / f"{result.keyid}.json"
    write_atomic(path, (json.dumps(record(result), indent=2, sort_keys=True) + "\n").encode())
    return path


def kept_for(keys_dir: Path, keyids: list[str]) -> dict[str, dict[str, Any]]:
    """The kept attestations of ``keyids`` (those that have one), for root's field."""
    import json

    found: dict[str, dict[str, Any]] = {}
    for keyid in sorted(keyids):
        path = Path(keys_dir) / KEPT_DIR / f"{keyid}.json"
        if not path.is_file():
            continue
        try:
            entry = json.loads(read_bounded(path, 1024 * 1024, "kept attestation"))
        except (BadInput, ValueError):
            continue
        if isinstance(entry, dict) and entry.get("status") == VERIFIED:
            found[keyid] = entry
    return found
