"""verify_workspace: root chains, thresholds, gaps, expiry, delegations.

Workspaces are built with python-tuf's Metadata API and in-memory ECDSA
keys: these are tests of the verification logic, not of tokens.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey
from securesystemslib.signer._utils import compute_default_keyid
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)

from ceremony import cli
from ceremony.config import Config
from ceremony.errors import BadInput
from ceremony.verify import FAIL, OK, WARN, verify_workspace
from ceremony.workspace import Workspace
from tests.runbook_kit import client_of, served
from tests.tufkit import NOW, TOP, holder


def make_root(
    version: int, root_keys: list[CryptoSigner], others: dict[str, CryptoSigner], days: int = 365
) -> Metadata[Root]:
    root = Root(version=version, expires=NOW + timedelta(days=days), consistent_snapshot=True)
    root.roles = {name: Role([], 1) for name in TOP}
    for signer in root_keys:
        root.add_key(signer.public_key, "root")
    for name, signer in others.items():
        root.add_key(signer.public_key, name)
    root.roles["root"].threshold = 2
    return Metadata(root)


def sign(metadata: Metadata, *signers: CryptoSigner) -> Metadata:
    for signer in signers:
        metadata.sign(signer, append=True)
    return metadata


@pytest.fixture
def online() -> dict[str, CryptoSigner]:
    return {name: holder(name) for name in ("targets", "snapshot", "timestamp")}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws", Config(repository="ws"), lambda *a, **k: None)


def chain(workspace: Workspace, online: dict[str, CryptoSigner], versions: int = 3):
    """Versions 1..N, each replacing one of three root keys, signed 2 old + 2 new."""
    keys = [holder(f"holder{i}") for i in range(3)]
    previous = None
    for version in range(1, versions + 1):
        if version > 1:
            keys = [*keys[1:], holder(f"holder{version + 2}")]
        root = make_root(version, keys, online)
        signers = {s.public_key.keyid: s for s in keys[:2]}
        if previous is not None:
            signers |= {s.public_key.keyid: s for s in previous[:2]}
        sign(root, *signers.values())
        workspace.write_published("root", root)
        previous = keys
    return keys


def publish_targets(workspace: Workspace, online, delegations=None, days: int = 90) -> Targets:
    targets = Targets(version=1, expires=NOW + timedelta(days=days))
    targets.delegations = delegations
    workspace.write_published("targets", sign(Metadata(targets), online["targets"]))
    return targets


def statuses(report) -> list[tuple[str, int | None, str]]:
    return [(item.role, item.version, item.status) for item in report.items]


def test_good_chain_of_three(workspace, online):
    chain(workspace, online)
    publish_targets(workspace, online)
    report = verify_workspace(workspace)
    assert report.ok, report.to_dict()
    assert [s for s in statuses(report) if s[0] == "root"] == [
        ("root", 1, OK),
        ("root", 2, OK),
        ("root", 3, OK),
    ]
    assert ("targets", 1, OK) in statuses(report)
    assert report.exit_code == 0


def test_rotation_signed_by_new_keys_only_fails(workspace, online):
    keys = chain(workspace, online, versions=1)
    new = [holder("new1"), holder("new2"), keys[0]]
    bad = sign(make_root(2, new, online), new[0], new[1])
    workspace.write_published("root", bad)
    report = verify_workspace(workspace)
    assert not report.ok
    failure = report.failures[0]
    assert (failure.role, failure.version) == ("root", 2)
    assert "not signed by a threshold of the root keys of version 1" in failure.reason
    assert "holder1" in failure.reason  # the missing old holders are named
    assert report.exit_code == 1


def tamper_signature(path: Path) -> None:
    document = json.loads(path.read_bytes())
    signature = document["signatures"][0]
    text = signature["sig"]
    signature["sig"] = text[:-4] + ("0" if text[-4] != "0" else "1") + text[-3:]
    path.write_text(json.dumps(document, indent=1))


def test_tampered_signature_fails(workspace, online):
    chain(workspace, online)
    publish_targets(workspace, online)
    tamper_signature(workspace.metadata_dir / "targets.json")
    report = verify_workspace(workspace)
    assert not report.ok
    assert any(f.role == "targets" and "0 of 1 keys signed" in f.reason for f in report.failures)


def test_tampered_root_signature_fails(workspace, online):
    chain(workspace, online)
    for name in ("2.root.json",):
        path = workspace.metadata_dir / name
        document = json.loads(path.read_bytes())
        for signature in document["signatures"]:
            text = signature["sig"]
            signature["sig"] = text[:-4] + ("0" if text[-4] != "0" else "1") + text[-3:]
        path.write_text(json.dumps(document, indent=1))
    report = verify_workspace(workspace)
    assert ("root", 2, FAIL) in statuses(report)


def test_gap_in_versions_fails(workspace, online):
    chain(workspace, online, versions=3)
    (workspace.metadata_dir / "2.root.json").unlink()
    report = verify_workspace(workspace)
    assert not report.ok
    assert any("root version 2 is missing" in f.reason for f in report.failures)


def test_root_json_must_be_newest_copy(workspace, online):
    chain(workspace, online, versions=2)
    data = (workspace.metadata_dir / "1.root.json").read_bytes()
    (workspace.metadata_dir / "root.json").write_bytes(data)
    report = verify_workspace(workspace)
    assert any("not a copy of 2.root.json" in f.reason for f in report.failures)


def test_expired_fails_and_soon_warns(workspace, online):
    chain(workspace, online, versions=1)
    publish_targets(workspace, online, days=10)
    report = verify_workspace(workspace, warn_days=30)
    assert report.ok
    assert ("targets", 1, WARN) in statuses(report)
    later = verify_workspace(workspace, now=NOW + timedelta(days=11))
    assert not later.ok
    assert any(f.role == "targets" and "expired" in f.reason for f in later.failures)


def test_trusted_root_starts_there(workspace, online, tmp_path):
    chain(workspace, online, versions=3)
    trusted = tmp_path / "trusted.json"
    trusted.write_bytes((workspace.metadata_dir / "2.root.json").read_bytes())
    (workspace.metadata_dir / "1.root.json").write_text("not json at all")
    report = verify_workspace(workspace, trusted_root=trusted)
    assert report.ok, report.to_dict()
    roots = [s for s in statuses(report) if s[0] == "root"]
    assert roots == [("root", 2, OK), ("root", 3, OK)]


def test_trusted_root_must_be_root(workspace, online, tmp_path):
    chain(workspace, online, versions=1)
    publish_targets(workspace, online)
    with pytest.raises(BadInput, match="holds targets metadata, not root"):
        verify_workspace(workspace, trusted_root=workspace.metadata_dir / "targets.json")


def test_delegated_role_with_bad_signature_fails(workspace, online):
    chain(workspace, online, versions=1)
    delegate, other = holder("delegate"), holder("other")
    role = DelegatedRole("releases", [delegate.public_key.keyid], 1, True, paths=["rel/*"])
    keys = {delegate.public_key.keyid: delegate.public_key}
    publish_targets(workspace, online, Delegations(keys, roles={"releases": role}))
    releases = Targets(version=1, expires=NOW + timedelta(days=90))
    workspace.write_published("releases", sign(Metadata(releases), other))
    report = verify_workspace(workspace)
    assert ("releases", 1, FAIL) in statuses(report)
    reason = next(f.reason for f in report.failures if f.role == "releases")
    assert "delegate" in reason and "targets's threshold" in reason


def test_hash_bins_verified(workspace, online):
    chain(workspace, online, versions=1)
    binkey = holder("bins")
    succinct = SuccinctRoles([binkey.public_key.keyid], 1, 3, "bin")
    keys = {binkey.public_key.keyid: binkey.public_key}
    publish_targets(workspace, online, Delegations(keys, succinct_roles=succinct))
    names = list(succinct.get_roles())
    for name in names[:4]:
        bin_md = Targets(version=1, expires=NOW + timedelta(days=90))
        bin_md.targets["a"] = TargetFile(1, {"sha256": "00" * 32}, "a")
        workspace.write_published(name, sign(Metadata(bin_md), binkey))
    report = verify_workspace(workspace)
    assert report.ok, report.to_dict()
    summary = next(i for i in report.items if i.role == "bin-*")
    assert summary.reason.startswith("4 of 8 hash bins")
    workspace.write_published(names[5], sign(Metadata(Targets(1)), online["targets"]))
    report = verify_workspace(workspace)
    assert (names[5], 1, FAIL) in statuses(report)


def test_malformed_published_file_is_bad_input(workspace, online):
    chain(workspace, online, versions=2)
    (workspace.metadata_dir / "2.root.json").write_text('{"signed": {"_type": "root", "_type": 1}}')
    report = verify_workspace(workspace)
    assert report.exit_code == 2
    assert any("duplicate JSON key" in f.reason for f in report.failures)


def run_cli(workspace: Workspace, *argv: str) -> int:
    return cli.main(["--workspace", str(workspace.root), *argv])


def test_cli_verify_exit_codes(workspace, online, capsys):
    chain(workspace, online)
    publish_targets(workspace, online)
    assert run_cli(workspace, "verify") == 0
    assert "Verified" in capsys.readouterr().out
    tamper_signature(workspace.metadata_dir / "targets.json")
    assert run_cli(workspace, "verify", "--json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False


def test_bin_expiry_is_summed_up(workspace, online):
    chain(workspace, online, versions=1)
    binkey = holder("bins")
    succinct = SuccinctRoles([binkey.public_key.keyid], 1, 4, "bin")
    keys = {binkey.public_key.keyid: binkey.public_key}
    publish_targets(workspace, online, Delegations(keys, succinct_roles=succinct))
    for index, name in enumerate(succinct.get_roles()):
        bin_md = Targets(version=1, expires=NOW + timedelta(days=5 + index))
        workspace.write_published(name, sign(Metadata(bin_md), binkey))
    soon = verify_workspace(workspace)
    assert soon.ok
    assert [(i.status, i.reason.split(" (")[0]) for i in soon.items if i.role == "bin-*"] == [
        (OK, "16 of 16 hash bins kept here, 16 verified by targets"),
        (WARN, "16 bins expire within the warning period"),
    ]
    later = verify_workspace(workspace, now=NOW + timedelta(days=7))
    assert [i.reason for i in later.failures] == [
        f"3 bins have expired (the first on {(NOW + timedelta(days=5)):%Y-%m-%d %H:%M} UTC); "
        "13 more expire soon"
    ]


def test_online_roles_expiry_only_warns_and_orphans_are_named(workspace, online):
    chain(workspace, online, versions=1)
    publish_targets(workspace, online)
    snapshot = Metadata(Snapshot(expires=NOW - timedelta(days=1)))
    workspace.write_published("snapshot", sign(snapshot, online["snapshot"]))
    stray = Targets(version=1, expires=NOW + timedelta(days=90))
    workspace.write_published("stray", sign(Metadata(stray), online["targets"]))
    report = verify_workspace(workspace)
    assert report.ok, report.to_dict()
    assert ("snapshot", 1, OK) in statuses(report)
    assert any(i.role == "snapshot" and "online role" in i.reason for i in report.warnings)
    assert any(i.role == "stray" and "not delegated" in i.reason for i in report.warnings)


def test_cli_verify_bad_trusted_root_exit_2(workspace, online, tmp_path, capsys):
    chain(workspace, online, versions=1)
    assert run_cli(workspace, "verify", "--trusted-root", str(tmp_path / "missing.json")) == 2
    assert "cannot read the trusted root" in capsys.readouterr().err
    document = json.loads((workspace.metadata_dir / "1.root.json").read_bytes())
    document["signed"]["spec_version"] = "2.0.0"
    bad = tmp_path / "spec2.json"
    bad.write_text(json.dumps(document))
    assert run_cli(workspace, "verify", "--trusted-root", str(bad)) == 2
    assert "spec_version '2.0.0'" in capsys.readouterr().err
    assert list((workspace.root / "transcripts").iterdir()) == []


# ------------------------------------------------- one public key, two keyids


def alias(key: SSlibKey) -> SSlibKey:
    """The same public key under its other keytype name, so under another keyid."""
    other = "ecdsa-sha2-nistp256" if key.keytype == "ecdsa" else "ecdsa"
    keyval = dict(key.keyval)
    keyid = compute_default_keyid(other, key.scheme, keyval)
    return SSlibKey(keyid, other, key.scheme, keyval, dict(key.unrecognized_fields))


def sign_twice(metadata: Metadata, signer: CryptoSigner, twin: SSlibKey) -> Metadata:
    """One signature, filed a second time under the key's other keyid."""
    signature = metadata.sign(signer, append=True)
    metadata.signatures[twin.keyid] = Signature(twin.keyid, signature.signature)
    return metadata


def _ngclient_fetches(metadata_dir: Path, tmp_path: Path, path: str, payload: bytes) -> bytes:
    """python-tuf's client, trusting root v1, updates and downloads ``path`` over 127.0.0.1."""
    server = tmp_path / "server"
    shutil.copytree(metadata_dir, server / "metadata")
    digest = hashlib.sha256(payload).hexdigest()
    stored = server / "targets" / Path(path).parent / f"{digest}.{Path(path).name}"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(payload)
    with served(server) as base:
        trusted = (server / "metadata" / "1.root.json").read_bytes()
        updater = client_of(base, tmp_path / "client", trusted)
        updater.refresh()
        info = updater.get_targetinfo(path)
        assert info is not None, f"ngclient found {path}"
        return Path(updater.download_target(info)).read_bytes()


ALIAS_DEPRECATED = "ignore:keytype 'ecdsa-sha2-nistp256' is deprecated:DeprecationWarning"


@pytest.mark.filterwarnings(ALIAS_DEPRECATED)
def test_a_key_counted_twice_fails_where_ngclient_accepts(workspace, online, tmp_path):
    """Root v2 lists Alice's key twice (ecdsa and ecdsa-sha2-nistp256) with
    threshold 2, and a delegated role does the same with Dave's: Alice alone,
    and Dave alone, meet them. python-tuf's client accepts both."""
    alice, bob, carol, dave = (holder(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    v1 = sign(make_root(1, [alice, bob, carol], online), alice, bob)
    workspace.write_published("root", v1)
    alice_twin = alias(alice.public_key)
    v2 = make_root(2, [alice, carol], online)
    v2.signed.add_key(alice_twin, "root")
    sign_twice(sign(v2, bob), alice, alice_twin)  # v1's threshold: Alice and Bob
    workspace.write_published("root", v2)

    dave_twin = alias(dave.public_key)
    keys = {k.keyid: k for k in (dave.public_key, dave_twin)}
    role = DelegatedRole("pkgs", list(keys), 2, True, paths=["pkgs/*"])
    publish_targets(workspace, online, Delegations(keys, roles={"pkgs": role}))
    payload = b"one token, counted twice\n"
    pkgs = Targets(version=1, expires=NOW + timedelta(days=90))
    pkgs.targets["pkgs/x.txt"] = TargetFile.from_data("pkgs/x.txt", payload, ["sha256"])
    workspace.write_published("pkgs", sign_twice(Metadata(pkgs), dave, dave_twin))
    meta = {"targets.json": MetaFile(1), "pkgs.json": MetaFile(1)}
    snapshot = Snapshot(version=1, expires=NOW + timedelta(days=7), meta=meta)
    workspace.write_published("snapshot", sign(Metadata(snapshot), online["snapshot"]))
    stamp = Timestamp(version=1, expires=NOW + timedelta(days=1), snapshot_meta=MetaFile(1))
    stamp_file = workspace.metadata_dir / "timestamp.json"
    sign(Metadata(stamp), online["timestamp"]).to_file(str(stamp_file))

    assert _ngclient_fetches(workspace.metadata_dir, tmp_path, "pkgs/x.txt", payload) == payload

    report = verify_workspace(workspace)
    assert ("root", 1, OK) in statuses(report)
    assert ("root", 2, FAIL) in statuses(report)
    assert ("pkgs", 1, FAIL) in statuses(report)
    assert report.exit_code == 1
    root_reason = next(f.reason for f in report.failures if f.role == "root")
    assert "only if one key is counted twice" in root_reason
    assert "root version 2's root role lists one public key twice" in root_reason
    assert f"key {alice.public_key.keyid[:8]} (Alice)" in root_reason
    assert f"key {alice_twin.keyid[:8]} (Alice)" in root_reason
    assert "1 distinct keys signed, 2 needed" in root_reason
    pkgs_reason = next(f.reason for f in report.failures if f.role == "pkgs")
    assert "delegated role pkgs lists one public key twice" in pkgs_reason
    assert f"key {dave.public_key.keyid[:8]} (Dave) and key {dave_twin.keyid[:8]} (Dave)" in (
        pkgs_reason
    )


@pytest.mark.filterwarnings(ALIAS_DEPRECATED)
def test_a_key_listed_twice_but_not_needed_twice_warns(workspace, online):
    alice, bob, carol = (holder(n) for n in ("Alice", "Bob", "Carol"))
    v1 = make_root(1, [alice, bob, carol], online)
    v1.signed.add_key(alias(alice.public_key), "root")
    workspace.write_published("root", sign(v1, alice, bob))
    publish_targets(workspace, online)
    report = verify_workspace(workspace)
    assert report.ok, report.to_dict()
    assert ("root", 1, OK) in statuses(report)
    warning = next(w.reason for w in report.warnings if w.role == "root")
    assert "lists one public key twice" in warning and "(Alice)" in warning
    assert "met without counting it twice" in warning
