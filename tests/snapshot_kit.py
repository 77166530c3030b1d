"""A workspace that looks the same on every machine, for snapshot tests of the app.

Keys are Ed25519 from fixed seeds (their signatures are deterministic),
dates and the clock are fixed, the record is written with a fixed time and
setup, and the token readers are a fixed list: the one fake here, which is
fine for tests of what the screens look like (the flows themselves are
tested against SoftHSM in test_tui_app.py).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import DelegatedRole, Delegations, Metadata, Role, Root, Targets

from ceremony import audit
from ceremony.airgap import Readings, preflight
from ceremony.config import Config
from ceremony.keys import OWNER_FIELD, URI_FIELD
from ceremony.session import Ceremony, KeyInfo
from ceremony.tokens import Evidence, TokenInfo
from ceremony.workspace import Workspace

CLOCK = datetime(2027, 6, 1, 9, 30, tzinfo=UTC)
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
HOLDERS = ("Alice", "Bob", "Carol", "Dave", "Erin", "snapshot", "timestamp")
SERIALS = {name: hashlib.sha256(name.encode()).hexdigest()[:16] for name in HOLDERS}


def signer(name: str) -> CryptoSigner:
    seed = hashlib.sha256(f"snapshot-kit {name}".encode()).digest()
    key = CryptoSigner(Ed25519PrivateKey.from_private_bytes(seed))
    public = key.public_key
    public.unrecognized_fields[OWNER_FIELD] = name
    if name not in ("snapshot", "timestamp"):
        label = f"{name.lower()}-token"
        public.unrecognized_fields[URI_FIELD] = (
            f"pkcs11:token={label};serial={SERIALS[name]};object=tuf-key"
        )
    return key


def _root(version: int, holders: tuple[str, ...], signers: dict[str, CryptoSigner]) -> Root:
    root = Root(version=version, expires=datetime(2028, 6, 1, tzinfo=UTC), consistent_snapshot=True)
    root.roles = {name: Role([], 1) for name in ("root", "targets", "snapshot", "timestamp")}
    for name in holders:
        root.add_key(signers[name].public_key, "root")
    root.add_key(signers["Dave"].public_key, "targets")
    root.add_key(signers["snapshot"].public_key, "snapshot")
    root.add_key(signers["timestamp"].public_key, "timestamp")
    root.roles["root"].threshold = 2
    return root


def build(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Root v1 and targets v1 published, root v2 (Carol out, Erin in) staged,
    reviewed and signed by Alice; one ceremony record."""
    monkeypatch.setattr(audit, "_utc_now", lambda: CLOCK)
    monkeypatch.setattr(
        audit,
        "environment_details",
        lambda *_a, **_k: {"tool_version": "snapshot", "workspace": "ws", "module_path": MODULE},
    )
    signers = {name: signer(name) for name in HOLDERS}
    transcript = audit.Transcript.start(
        path, title="Root rotation 2027", operator="Olivia Operator", witnesses=["Wanda"]
    )
    ws = Workspace.create(path, Config(repository="example"), transcript.record)
    v1 = Metadata(_root(1, ("Alice", "Bob", "Carol"), signers))
    for name in ("Alice", "Bob"):
        v1.sign(signers[name], append=True)
    ws.write_published("root", v1)
    targets = Targets(version=1, expires=CLOCK + timedelta(days=19))
    targets.delegations = Delegations(
        keys={signers["Erin"].public_key.keyid: signers["Erin"].public_key},
        roles={
            "pkgs": DelegatedRole("pkgs", [signers["Erin"].public_key.keyid], 1, False, ["pkgs/*"])
        },
    )
    published_targets = Metadata(targets)
    published_targets.sign(signers["Dave"])
    ws.write_published("targets", published_targets)
    for signer_ in signers.values():
        ws.add_key(signer_.public_key)
    v2 = Metadata(_root(2, ("Alice", "Bob", "Erin"), signers))
    digest = ws.stage("root", v2, 1)
    ws.mark_reviewed("root", digest)
    staged = ws.staged_payload("root")
    ws.add_signatures(
        "root", digest, {signers["Alice"].public_key.keyid: signers["Alice"].sign(staged.payload)}
    )
    transcript.record(audit.STAGED, role="root", version=2, payload_sha256=digest)
    return path


class SnapshotCeremony(Ceremony):
    """The real session on the fixed workspace, with fixed token readers."""

    def tokens(self) -> list[TokenInfo]:
        infos = [token_info(name) for name in ("Alice", "Bob", "Erin")]
        return [
            *infos,
            TokenInfo(
                slot_id=9,
                slot_description="SoftHSM slot",
                present=True,
                manufacturer="SoftHSM project",
                model="SoftHSM v2",
            ),
        ]

    def token_keys(self, selector: str, pin_source: Any = None) -> list[KeyInfo]:
        name = next(n for n, s in SERIALS.items() if s == selector)
        key = signer(name).public_key
        evidence = Evidence(True, True, True, True, False) if pin_source else None
        return [
            KeyInfo(
                token_info(name), "tuf-key", "00" * 16, "ed25519", key.keyid, name, evidence, key
            )
        ]


def token_info(name: str) -> TokenInfo:
    return TokenInfo(
        slot_id=HOLDERS.index(name),
        slot_description="SoftHSM slot",
        present=True,
        label=f"{name.lower()}-token",
        serial=SERIALS[name],
        manufacturer="SoftHSM project",
        model="SoftHSM v2",
        firmware="2.6",
        initialized=True,
        login_required=True,
        pin_state=("tries low",) if name == "Bob" else ("ok",),
    )


def ceremony(path: Path) -> SnapshotCeremony:
    offline = Readings(now=CLOCK, entropy_avail=3000)
    return SnapshotCeremony(
        path,
        operator="Olivia Operator",
        module=MODULE,
        check=lambda: preflight(offline),
        clock=lambda: CLOCK,
    )
