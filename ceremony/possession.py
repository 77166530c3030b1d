"""Proof of possession: a key holder who is not in the room proves they hold their key.

A key generated at the table is seen being born on its token. A holder who
joins from elsewhere sends a public key instead, and a public key alone
proves nothing: anyone can send anyone's. So before such a key enters a
proposal, its holder signs a challenge with it, and the signature is
checked here.

The challenge is derived from the root proposal staged now (its version
and the SHA-256 of its exact signed bytes) and the repository's name, so a
proof cannot be made in advance, replayed for a later proposal, or carried
to another repository. What the holder signs, the *statement*, is the
canonical JSON (securesystemslib's ``encode_canonical``) of::

    {"purpose": "tuf-ceremony proof of possession v1",
     "repository": NAME, "root_version": N, "root_payload_sha256": HEX,
     "keyid": KEYID, "owner": HOLDER}

binding the proof to the holder's name and key too. The proof file
(:class:`Proof`) carries the challenge, the public key (TUF key JSON) and
the signature; :func:`check` accepts it only when the challenge is the one
of the proposal staged now, the key is a public key the design allows, the
owner is the holder expected, and the signature verifies (securesystemslib
verifies; nothing is hand-rolled). docs/runbooks.md shows the format.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.exceptions import FormatError, UnverifiedSignatureError, VerificationError
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Key, Signature, Signer, SSlibKey

from ceremony.errors import BadInput, KeyError_, ProofRefused
from ceremony.fsutil import read_bounded
from ceremony.keys import check_public_key, key_to_json, owner_of, parse_key_bytes
from ceremony.metafile import loads_strict
from ceremony.text import visible
from ceremony.words import short_words

PURPOSE = "tuf-ceremony proof of possession v1"
PROOF_TYPE = "tuf-ceremony proof of possession"
CHALLENGE_TYPE = "tuf-ceremony possession challenge"
MAX_PROOF = 64 * 1024
_CHALLENGE_FIELDS = ("repository", "root_version", "root_payload_sha256")


def _canonical(document: dict[str, Any]) -> bytes:
    text = encode_canonical(document)
    assert isinstance(text, str)
    return text.encode("utf-8")


@dataclass(frozen=True)
class Challenge:
    """What a proof must be made over: this repository's root proposal staged now."""

    repository: str
    root_version: int
    root_payload_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "root_version": self.root_version,
            "root_payload_sha256": self.root_payload_sha256,
        }

    @property
    def sha256(self) -> str:
        return hashlib.sha256(_canonical(self.to_dict())).hexdigest()

    @property
    def words(self) -> str:
        """Six words to read over the telephone: both sides must hear the same."""
        return short_words(self.sha256)

    def statement(self, key: Key) -> bytes:
        """The exact bytes the holder signs with ``key``."""
        return _canonical(
            {"purpose": PURPOSE, **self.to_dict(), "keyid": key.keyid, "owner": owner_of(key)}
        )

    def to_json(self) -> bytes:
        document = {"type": CHALLENGE_TYPE, "version": 1, "challenge": self.to_dict()}
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Challenge:
        if not isinstance(data, dict) or set(data) != set(_CHALLENGE_FIELDS):
            raise BadInput(
                f"{source}: the challenge must hold exactly {', '.join(_CHALLENGE_FIELDS)}",
                "use the challenge file the ceremony wrote, unchanged",
            )
        version, digest = data["root_version"], data["root_payload_sha256"]
        valid = (
            isinstance(data["repository"], str)
            and isinstance(version, int)
            and not isinstance(version, bool)
            and isinstance(digest, str)
            and len(digest) == 64
        )
        if not valid:
            raise BadInput(f"{source}: the challenge's fields are malformed", "use it unchanged")
        return cls(data["repository"], version, digest)

    @classmethod
    def from_file(cls, path: Path) -> Challenge:
        document = loads_strict(read_bounded(path, MAX_PROOF, "challenge file"), str(path))
        if not isinstance(document, dict) or document.get("type") != CHALLENGE_TYPE:
            raise BadInput(f"{visible(path)} is not a possession challenge", "give challenge.json")
        return cls.from_dict(document.get("challenge"), str(path))


@dataclass(frozen=True)
class Proof:
    """A holder's answer to a challenge: their public key and its signature."""

    challenge: Challenge
    key: SSlibKey
    signature: Signature

    @property
    def owner(self) -> str:
        return owner_of(self.key)

    def to_json(self) -> bytes:
        document = {
            "type": PROOF_TYPE,
            "version": 1,
            "challenge": self.challenge.to_dict(),
            "key": json.loads(key_to_json(self.key)),
            "signature": self.signature.to_dict(),
        }
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Proof:
        """A proof file, parsed strictly: anything else in it is refused."""
        document = loads_strict(data, source)
        fields = {"type", "version", "challenge", "key", "signature"}
        if not isinstance(document, dict) or set(document) != fields:
            raise BadInput(
                f"{source} is not a proof of possession (it must hold exactly "
                f"{', '.join(sorted(fields))})",
                "ask the holder for the file 'ceremony runbook prove' wrote",
            )
        if document["type"] != PROOF_TYPE or document["version"] != 1:
            raise BadInput(f"{source}: unknown proof type or version", "use a version 1 proof")
        challenge = Challenge.from_dict(document["challenge"], source)
        key = parse_key_bytes(json.dumps(document["key"]).encode(), f"{source} (key)")
        try:
            signature = Signature.from_dict(dict(document["signature"]))
        except (KeyError, TypeError, ValueError, AttributeError, FormatError):
            raise BadInput(
                f"{source}: the signature is malformed", "make the proof again"
            ) from None
        return cls(challenge, key, signature)

    @classmethod
    def from_file(cls, path: Path) -> Proof:
        return cls.from_bytes(read_bounded(path, MAX_PROOF, "proof file"), str(path))


def prove(signer: Signer, key: SSlibKey, challenge: Challenge) -> Proof:
    """Sign the statement for ``key`` (the signer verifies what the token returns)."""
    return Proof(challenge, key, signer.sign(challenge.statement(key)))


def check(proof: Proof, expected: Challenge, owner: str) -> Key:
    """Accept ``proof`` for ``owner`` against the proposal staged now, or refuse it."""
    name = visible(owner)
    if proof.challenge != expected:
        raise ProofRefused(
            f"the proof of {name} answers another challenge (root version "
            f"{proof.challenge.root_version}, {short_words(proof.challenge.sha256)}), not the "
            f"proposal staged now (root version {expected.root_version}, {expected.words})",
            "send the holder the current challenge and ask for a new proof",
        )
    try:
        check_public_key(proof.key, f"the key in the proof of {name}")
    except KeyError_ as error:
        raise ProofRefused(error.problem, error.fix) from None
    if proof.owner != owner:
        raise ProofRefused(
            f"the proof for {name} carries the key of {visible(proof.owner)}",
            f"ask {name} for their own proof",
        )
    if proof.signature.keyid != proof.key.keyid:
        raise ProofRefused(
            f"the signature in the proof of {name} names key {visible(proof.signature.keyid)[:8]},"
            f" not the key it carries ({proof.key.keyid[:8]})",
            "ask the holder to make the proof again with the same key",
        )
    try:
        proof.key.verify_signature(proof.signature, expected.statement(proof.key))
    except (UnverifiedSignatureError, VerificationError):
        raise ProofRefused(
            f"the signature in the proof of {name} does not verify with key "
            f"{proof.key.keyid[:8]}: it was not made with this key over this challenge",
            "the key is not added; ask the holder to make the proof again",
        ) from None
    return proof.key
