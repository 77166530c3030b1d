"""A securesystemslib Signer over PKCS#11 tokens, for ``pkcs11:`` URIs.

Registered for the "pkcs11" scheme so ``Signer.from_priv_key_uri`` works
in any python-tuf based tool. Two things set it apart from an ordinary HSM
signer: one login serves every signature made on a token in this process
(a ceremony signs several roles, and a key holder types the PIN once), and
every signature is verified against the public key before it is returned,
so a token that misbehaves is caught at the table, not by clients later.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import os
from pathlib import Path

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11.mechanisms import MGF
from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.signer import (
    SIGNER_FOR_URI_SCHEME,
    Key,
    SecretsHandler,
    Signature,
    Signer,
)

from ceremony import tokens
from ceremony.errors import KeyError_, SignatureError
from ceremony.keys import Pkcs11Uri, crypto_public_key, parse_once

_PSS_PARAMS = (Mechanism.SHA256, MGF.SHA256, 32)
_SPKI = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
_ECDSA_HASH = {"secp256r1": hashlib.sha256, "secp384r1": hashlib.sha384}


def der_ecdsa(raw: bytes) -> bytes:
    """PKCS#11 returns r||s; TUF and securesystemslib want DER."""
    half = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )


class SessionPool:
    """Logged-in sessions shared by signers, one per token, until closed.

    The PIN goes to C_Login once and is dropped; the session is what is kept,
    and ``close_all`` logs out (also at exit).
    """

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], pkcs11.Session] = {}

    def session(
        self,
        token: pkcs11.Token,
        module_path: Path,
        secrets_handler: SecretsHandler | None,
        final_try: bool = False,
    ) -> pkcs11.Session:
        key = (str(module_path), tokens.serial_of(token))
        if key not in self._sessions:
            self._sessions[key] = tokens.open_user_session(
                token, secrets_handler, final_try=final_try
            )
        return self._sessions[key]

    def close(self, module_path: Path, serial: str) -> None:
        session = self._sessions.pop((str(module_path), serial), None)
        if session is not None:
            tokens.close_session(session)

    def close_all(self) -> None:
        for session in self._sessions.values():
            tokens.close_session(session)
        self._sessions.clear()


POOL = SessionPool()
atexit.register(POOL.close_all)


def module_for_uri(uri: Pkcs11Uri) -> Path:
    """The module named in the URI, else the usual resolution order."""
    return tokens.resolve_module_path(uri.module_path or os.environ.get("CEREMONY_PKCS11_MODULE"))


class Pkcs11Signer(Signer):
    """Signs with a private key that stays on its PKCS#11 token."""

    SCHEME = "pkcs11"

    def __init__(
        self,
        uri: Pkcs11Uri,
        public_key: Key,
        secrets_handler: SecretsHandler | None,
        *,
        module_path: Path | None = None,
        allow_exportable: bool = False,
        final_try: bool = False,
        pool: SessionPool = POOL,
    ) -> None:
        self.uri = uri
        self._public_key = public_key
        self._verify_key = parse_once(copy.copy(public_key))
        self._secrets_handler = secrets_handler
        self.module_path = module_path or module_for_uri(uri)
        self.allow_exportable = allow_exportable
        self.final_try = final_try
        self._pool = pool
        self._key: tokens.TokenKey | None = None
        self._spec: tokens.KeySpec | None = None

    @classmethod
    def from_priv_key_uri(
        cls,
        priv_key_uri: str,
        public_key: Key,
        secrets_handler: SecretsHandler | None = None,
    ) -> Pkcs11Signer:
        return cls(Pkcs11Uri.parse(priv_key_uri), public_key, secrets_handler)

    @property
    def public_key(self) -> Key:
        return self._public_key

    def token(self) -> pkcs11.Token:
        """The token by serial first, label as a fallback."""
        lib = tokens.load_module(self.module_path)
        selector = self.uri.serial or self.uri.token
        if selector is None:
            raise KeyError_(
                f"key URI {self.uri} names no token", "add serial= or token= to the URI"
            )
        try:
            return tokens.find_token(lib, selector)
        except tokens.TokenError:
            if self.uri.serial and self.uri.token:
                return tokens.find_token(lib, self.uri.token)
            raise

    def _private_key(self) -> tokens.TokenKey:
        if self._key is not None:
            return self._key
        token = self.token()
        session = self._pool.session(token, self.module_path, self._secrets_handler, self.final_try)
        key = tokens.find_key(session, key_id=self.uri.id, label=self.uri.object)
        self._check_key(token, key)
        self._key = key
        return key

    def _check_key(self, token: pkcs11.Token, key: tokens.TokenKey) -> None:
        """Refuse a key that is not the one in the metadata, or that could
        have been copied off the token."""
        if key.public is None:
            raise KeyError_(f"key {key.label!r} has no public key on the token")
        self._spec = tokens.spec_for_key(key.public, key.key_type)
        if not self._same_public_key(key, self._spec):
            raise KeyError_(
                f"key {key.label!r} on token {token.label.strip()!r} is not the key "
                f"{self._public_key.keyid[:8]} named in the metadata",
                "insert the token that holds this key, or check the key URI",
            )
        tokens.require_born_on_token(key, self.allow_exportable)

    def _same_public_key(self, key: tokens.TokenKey, spec: tokens.KeySpec) -> bool:
        """The token's public key against the one signatures are verified with
        (parsed once, for that), without building a TUF key from the token's.

        EC keys compare their points as the token stores them (CKA_EC_POINT,
        DER-wrapped or raw); other types compare SubjectPublicKeyInfo.
        """
        expected = self._verify_key._crypto_key()  # type: ignore[attr-defined]
        assert key.public is not None
        if spec.key_type == KeyType.EC and isinstance(expected, ec.EllipticCurvePublicKey):
            point = expected.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            stored = bytes(key.public[Attribute.EC_POINT])
            wrapped = b"\x04" + bytes([len(point)]) + point  # a DER OCTET STRING
            return expected.curve.name == spec.curve and stored in (point, wrapped)
        on_token = crypto_public_key(key.public, key.key_type).public_bytes(*_SPKI)
        return on_token == expected.public_bytes(*_SPKI)

    def sign(self, payload: bytes) -> Signature:
        key = self._private_key()
        assert self._spec is not None
        raw = self._raw_sign(key, self._spec, payload)
        signature = Signature(self._public_key.keyid, raw.hex())
        try:
            self._verify_key.verify_signature(signature, payload)
        except (UnverifiedSignatureError, VerificationError) as error:
            raise SignatureError(
                f"token returned a signature that does not verify for key "
                f"{self._public_key.keyid[:8]} ({error})",
                "the token or key is faulty; stop and use another key holder's token",
            ) from None
        return signature

    @staticmethod
    def _raw_sign(key: tokens.TokenKey, spec: tokens.KeySpec, payload: bytes) -> bytes:
        private = key.private
        if spec.sign_mechanism == Mechanism.ECDSA:
            digest = _ECDSA_HASH[spec.curve](payload).digest()
            return der_ecdsa(private.sign(digest, mechanism=Mechanism.ECDSA))
        if spec.sign_mechanism == Mechanism.EDDSA:
            return private.sign(payload, mechanism=Mechanism.EDDSA)
        return private.sign(
            payload, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=_PSS_PARAMS
        )


SIGNER_FOR_URI_SCHEME[Pkcs11Signer.SCHEME] = Pkcs11Signer
