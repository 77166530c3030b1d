"""Software keys and dates for unit tests of metadata logic (review, verify).

Token-based flows are tested with SoftHSM elsewhere; these tests build
metadata directly with python-tuf and CryptoSigner keys.
"""

from __future__ import annotations

from datetime import UTC, datetime

from securesystemslib.signer import CryptoSigner

from ceremony.keys import OWNER_FIELD

NOW = datetime.now(UTC).replace(microsecond=0)
TOP = ("root", "targets", "snapshot", "timestamp")


def holder(name: str) -> CryptoSigner:
    """A software key whose public half carries a holder's name."""
    signer = CryptoSigner.generate_ecdsa()
    signer.public_key.unrecognized_fields[OWNER_FIELD] = name
    return signer
