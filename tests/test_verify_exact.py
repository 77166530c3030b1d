"""Verification on the exact bytes: the same verdicts as the full path, and no
trust in bytes that are not the canonical payload a client would check."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner, Signature
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    SuccinctRoles,
    TargetFile,
    Targets,
)

from ceremony import verify
from ceremony.config import Config
from ceremony.metafile import file_bytes, json_text, payload_bytes
from ceremony.verify import FAIL, OK, load_exact, verify_workspace
from ceremony.workspace import Workspace
from tests.test_verify import chain, publish_targets, sign
from tests.tufkit import NOW, holder


@pytest.fixture
def online() -> dict[str, CryptoSigner]:
    return {name: holder(name) for name in ("targets", "snapshot", "timestamp")}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.create(tmp_path / "ws", Config(repository="ws"), lambda *a, **k: None)
    return ws


def _bin(name: str, index: int, days: int = 90) -> Metadata[Targets]:
    bin_md = Targets(version=1, expires=NOW + timedelta(days=days))
    path = f"{name}/file-{index}.tar.gz"
    bin_md.targets[path] = TargetFile(100 + index, {"sha256": f"{index:02x}" * 32}, path)
    return Metadata(bin_md)


def _tree(workspace: Workspace, online: dict[str, CryptoSigner]) -> tuple[CryptoSigner, list[str]]:
    """Two roots, targets delegating 8 hash bins (5 kept) and one named role."""
    chain(workspace, online, versions=2)
    binkey, delegate = holder("bins"), holder("delegate")
    succinct = SuccinctRoles([binkey.public_key.keyid], 1, 3, "bin")
    keys = {k.public_key.keyid: k.public_key for k in (binkey, delegate)}
    role = DelegatedRole("releases", [delegate.public_key.keyid], 1, True, paths=["rel/*"])
    publish_targets(workspace, online, Delegations(keys, roles={"releases": role}))
    releases = Targets(version=1, expires=NOW + timedelta(days=90))
    workspace.write_published("releases", sign(Metadata(releases), delegate))
    # the named role delegates the bins in turn
    releases.delegations = Delegations(
        {binkey.public_key.keyid: binkey.public_key}, succinct_roles=succinct
    )
    releases.version = 2
    workspace.write_published("releases", sign(Metadata(releases), delegate))
    names = list(succinct.get_roles())
    for index, name in enumerate(names[:5]):
        workspace.write_published(name, sign(_bin(name, index, days=90 - index * 20), binkey))
    return binkey, names


def _full_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(_data: bytes) -> None:
        raise verify._NotFast

    monkeypatch.setattr(verify, "_exact_layout", never)


def _same_as_full_path(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> dict:
    fast = verify_workspace(workspace).to_dict()
    with monkeypatch.context() as patch:
        _full_path_only(patch)
        full = verify_workspace(workspace).to_dict()
    assert fast == full
    return fast


def _rewrite(workspace: Workspace, name: str, change) -> None:
    path = workspace.metadata_dir / f"{name}.json"
    path.write_bytes(change(path.read_bytes()))


def test_a_tree_verifies_alike_on_both_paths(workspace, online, monkeypatch):
    _tree(workspace, online)
    report = _same_as_full_path(workspace, monkeypatch)
    assert report["ok"], report
    statuses = {(i["role"], i["status"]) for i in report["items"]}
    assert ("bin-*", OK) in statuses and ("releases", OK) in statuses


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.replace(b'"length":', b'"length": '), id="white-space"),
        pytest.param(lambda d: d.replace(b'"version":1', b'"version":2'), id="payload-changed"),
        pytest.param(lambda d: d.replace(b'"spec_version":"1.0.31"', b'"spec_version":"2.0"'),
                     id="spec-version"),
        pytest.param(lambda d: d.replace(b'"_type":"targets"', b'"_type":"root"'), id="type"),
        pytest.param(lambda d: d.replace(b'{"length"', b'{"length":5,"length"'), id="duplicate"),
        pytest.param(lambda d: d.replace(b'"length":101', b'"length":101.0'), id="float"),
        pytest.param(lambda d: d.replace(b'"length":101', b'"length":-0'), id="minus-zero"),
        pytest.param(lambda d: d.replace(b'"keyid"', b'"keyid":"x","keyid"'), id="dup-in-sig"),
        pytest.param(lambda d: d.replace(b'Z"', b'+00:00"', 1), id="expiry-format"),
        pytest.param(lambda d: d[:-1], id="no-final-newline"),
        pytest.param(lambda d: d.replace(b'"signed":{', b'"signed":{"delegations":{},', 1),
                     id="delegations-malformed"),
        pytest.param(lambda d: d.replace(b"file-1", b"file\\u002d1"), id="escape"),
    ],
)
def test_a_changed_bin_gets_the_same_verdict_on_both_paths(workspace, online, monkeypatch, change):
    _, names = _tree(workspace, online)
    _rewrite(workspace, names[1], change)
    _same_as_full_path(workspace, monkeypatch)


def test_a_signature_over_non_canonical_bytes_is_not_accepted(workspace, online, monkeypatch):
    """Signing the stored text rather than the canonical payload must not pass:
    a client checks the canonical form, so verify must too."""
    binkey, names = _tree(workspace, online)
    metadata = _bin(names[0], 0)
    text = json_text(metadata.signed.to_dict()).replace(b'"length":', b'"length": ')
    raw = binkey.sign(text)
    forged = file_bytes({raw.keyid: raw}, text)
    (workspace.metadata_dir / f"{names[0]}.json").write_bytes(forged)
    report = _same_as_full_path(workspace, monkeypatch)
    assert not report["ok"]
    assert any(i["role"] == names[0] and i["status"] == FAIL for i in report["items"])


def test_the_payload_is_the_files_own_canonical_bytes(workspace, online):
    binkey, names = _tree(workspace, online)
    data = (workspace.metadata_dir / f"{names[0]}.json").read_bytes()
    loaded = load_exact(data, names[0], "targets")
    canonical = payload_bytes(Metadata.from_bytes(data))
    assert loaded.payload == canonical
    start = data.index(b',"signed":') + len(b',"signed":')
    assert loaded.payload is not canonical and data[start:-2] == canonical
    assert isinstance(loaded.signed, verify._Leaf), "no python-tuf objects for a leaf"
    assert loaded.signed.version == 1
    assert loaded.signed.expires == Metadata.from_bytes(data).signed.expires
    [signature] = loaded.signatures.values()
    assert isinstance(signature, Signature) and signature.keyid == binkey.public_key.keyid


def test_roles_with_delegations_are_built_in_full(workspace, online):
    _tree(workspace, online)
    data = (workspace.metadata_dir / "releases.json").read_bytes()
    loaded = load_exact(data, "releases", "targets")
    assert isinstance(loaded.signed, Targets) and loaded.signed.delegations is not None
    assert json.loads(data)["signed"]["version"] == loaded.signed.version == 2
