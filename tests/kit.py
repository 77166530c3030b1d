"""Building blocks for ceremony tests: key holders on SoftHSM, online keys.

Holders are real SoftHSM tokens with keys generated through our token
layer; online keys (snapshot, timestamp, delegated roles signed by the
test) are software keys, as they would be on the online server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import CryptoSigner

from ceremony import tokens
from ceremony.cli import main
from ceremony.keys import OWNER_FIELD, key_to_json, tuf_key_from_token
from tests.conftest import USER_PIN


@dataclass
class Holder:
    name: str
    token: str
    serial: str
    key_file: Path
    keyid: str


def make_holder(
    lib,
    make_token,
    directory: Path,
    name: str,
    key_type: str = "ecdsa-p256",
    token_label: str | None = None,
    key_label: str = "root",
) -> Holder:
    """A token (new, or an existing one by label) with one key for ``name``."""
    label = token_label or make_token(name.lower())
    token = tokens.find_token(lib, label)
    with tokens.logged_in(token, lambda _p: USER_PIN, rw=True) as session:
        key = tokens.generate_key(session, key_type, key_label, owner=name)
        tuf_key = tuf_key_from_token(token, key)
    path = directory / f"{name.lower()}-{key_label}.json"
    path.write_bytes(key_to_json(tuf_key))
    return Holder(name, label, tokens.serial_of(token), path, tuf_key.keyid)


@dataclass
class OnlineKey:
    name: str
    signer: CryptoSigner
    key_file: Path


def make_online_key(directory: Path, name: str) -> OnlineKey:
    signer = CryptoSigner.generate_ecdsa()
    key = signer.public_key
    key.unrecognized_fields[OWNER_FIELD] = name
    path = directory / f"{name}.json"
    path.write_bytes(key_to_json(key))
    return OnlineKey(name, signer, path)


def ceremony(workspace: Path, *argv: str) -> int:
    """Run the CLI in-process against ``workspace`` (PIN from CEREMONY_PIN)."""
    return main(["--workspace", str(workspace), *argv])


def review(workspace: Path, role: str) -> str:
    """What a key holder does before signing: look at the change, confirm it."""
    from ceremony.session import Ceremony

    with Ceremony(workspace, operator="Test Operator", allow_network=True) as session:
        result = session.review(role)
        session.confirm_review(result)
    return result.payload_sha256


def root_args(holders: list[Holder], online: dict[str, object], threshold: int = 2) -> list[str]:
    """`ceremony root init` arguments: holders' root keys and the other roles' keys."""
    args = ["root", "init", "--threshold", f"root={threshold}"]
    for holder in holders:
        args += ["--key", f"root={holder.key_file}"]
    for role, key in online.items():
        args += ["--key", f"{role}={key.key_file}"]
    return args


def make_people(lib, make_token, directory: Path) -> tuple[list[Holder], dict[str, object]]:
    """Three root holders on tokens, a targets holder, two online keys."""
    directory.mkdir()
    holders = [make_holder(lib, make_token, directory, n) for n in ("Alice", "Bob", "Carol")]
    dave = make_holder(lib, make_token, directory, "Dave", key_label="targets")
    online = {
        "targets": dave,
        "snapshot": make_online_key(directory, "snapshot"),
        "timestamp": make_online_key(directory, "timestamp"),
    }
    return holders, online
