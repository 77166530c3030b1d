"""Export and import of bundles between real workspaces signed on SoftHSM tokens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ceremony import signing
from ceremony.audit import Transcript, read_records
from ceremony.config import Config
from ceremony.errors import BadInput, CheckFailed, TransferError
from ceremony.transfer import exchange
from ceremony.transfer.bundle import Bundle, BundleFile
from ceremony.workspace import Workspace
from tests.conftest import USER_PIN
from tests.kit import ceremony, make_people, review, root_args


def writable(path: Path) -> Workspace:
    """The workspace with a ceremony record open, as the import command has it."""
    from ceremony.session import Ceremony

    return Ceremony(path, operator="Test Operator", allow_network=True).writable_workspace()


@pytest.fixture
def people(lib, make_token, tmp_path, monkeypatch):
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    return make_people(lib, make_token, tmp_path / "keys-in")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: 'nothing written' means this is unchanged."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def two_sites(people, workspace: Path, tmp_path: Path) -> Path:
    """Root v1 staged, copied to a second site; Alice signs here, Carol there."""
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    other = tmp_path / "site-b"
    shutil.copytree(workspace, other)
    review(workspace, "root")
    review(other, "root")
    assert ceremony(workspace, "sign", "root", "--token", holders[0].token) == 0
    assert ceremony(other, "sign", "root", "--token", holders[2].token) == 0
    return other


def publish_root(people, workspace: Path) -> None:
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    for holder in holders[:2]:
        assert ceremony(workspace, "sign", "root", "--token", holder.token) == 0
    assert ceremony(workspace, "publish", "root") == 0


def test_publish_export_carries_exact_bytes(people, workspace):
    publish_root(people, workspace)
    ws = Workspace.open(workspace)
    bundle = exchange.build_export(ws)
    names = [f.name for f in bundle.files]
    assert bundle.purpose == "publish" and bundle.repository == ws.config.repository
    assert {"metadata/1.root.json", "metadata/root.json"} <= set(names)
    assert any(n.startswith("transcripts/") and n.endswith(".jsonl") for n in names)
    for item in bundle.files:
        assert (workspace / item.name).read_bytes() == item.data, item.name
    assert [f.name for f in exchange.build_export(ws, ["root"]).files] == names
    with pytest.raises(BadInput, match="targets is not published"):
        exchange.build_export(ws, ["targets"])
    with pytest.raises(BadInput, match="nothing is staged"):
        exchange.build_export(ws, partial=True)


def test_partial_signatures_merge_across_sites(people, workspace, tmp_path):
    other = two_sites(people, workspace, tmp_path)
    bundle = exchange.build_export(Workspace.open(other), partial=True)
    assert bundle.purpose == "partial"
    assert bundle.file("staged/root.json").data == (other / "staged" / "root.json").read_bytes()

    ws = writable(workspace)
    report = exchange.import_bundle(ws, bundle, "site B")
    assert not report.failed
    [result] = report.roles
    assert result.role == "root" and not result.staged
    assert [h.split(" ")[0] for h in result.added] == ["Carol"]
    assert not result.already, "Alice signed here, not at site B"
    [state] = signing.status(ws)
    assert state.complete
    # the other site's diverged record is kept apart, and the import is on our record
    assert report.transcripts and all(
        (workspace / p).is_file() and p.startswith("transcripts/imported/")
        for p in report.transcripts
    )
    records, _ = read_records(Transcript.current(workspace).path)
    imported = [r for r in records if r["event"] == "import"][-1]["details"]
    assert imported["bundle_sha256"] == bundle.digest()
    assert {f["name"]: f["sha256"] for f in imported["files"]} == {
        f.name: f.sha256 for f in bundle.files
    }

    again = exchange.import_bundle(writable(workspace), bundle)
    assert not again.roles[0].added and len(again.roles[0].already) == 1


def test_partial_stages_proposal_not_staged_here(people, workspace, tmp_path):
    other = two_sites(people, workspace, tmp_path)
    writable(other).unstage("root")
    bundle = exchange.build_export(Workspace.open(workspace), partial=True)
    report = exchange.import_bundle(writable(other), bundle)
    [result] = report.roles
    assert result.staged and [h.split(" ")[0] for h in result.added] == ["Alice"]
    ws = Workspace.open(other)
    assert ws.staged_state("root").reviewed_sha256 is None, "a new proposal must be reviewed"
    assert list(ws.staged("root").signatures) == [people[0][0].keyid]


def test_invalid_signature_fails_but_valid_ones_are_kept(people, workspace, tmp_path):
    other = two_sites(people, workspace, tmp_path)
    holders, _ = people
    assert ceremony(other, "sign", "root", "--token", holders[1].token) == 0
    data = json.loads((other / "staged" / "root.json").read_bytes())
    bob = next(s for s in data["signatures"] if s["keyid"] == holders[1].keyid)
    bob["sig"] = bob["sig"][:-2] + ("00" if bob["sig"][-2:] != "00" else "11")
    tampered = Bundle("partial", "ws", [BundleFile("staged/root.json", json.dumps(data).encode())])
    report = exchange.import_bundle(writable(workspace), tampered)
    assert report.failed and report.roles[0].invalid == [holders[1].keyid]
    assert [h.split(" ")[0] for h in report.roles[0].added] == ["Carol"]


def test_different_proposal_is_refused_with_nothing_written(people, workspace, tmp_path):
    other = two_sites(people, workspace, tmp_path)
    holders, online = people
    assert ceremony(other, *root_args(holders, online, threshold=3)) == 0
    bundle = exchange.build_export(Workspace.open(other), partial=True)
    before = snapshot(workspace)
    with pytest.raises(TransferError, match="different proposal of root"):
        exchange.import_bundle(writable(workspace), bundle)
    assert snapshot(workspace) == before


def test_bundle_for_another_repository_is_refused(people, workspace, tmp_path):
    other = two_sites(people, workspace, tmp_path)
    bundle = exchange.build_export(Workspace.open(other), partial=True)
    foreign = Bundle("partial", "elsewhere", bundle.files)
    before = snapshot(workspace)
    with pytest.raises(TransferError, match="repository 'elsewhere'"):
        exchange.import_bundle(writable(workspace), foreign)
    assert snapshot(workspace) == before


def test_keys_bundle_adds_public_keys(people, workspace, tmp_path):
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    ws = Workspace.open(workspace)
    bundle = exchange.build_keys_export(ws)
    assert bundle.purpose == "keys" and len(bundle.files) == 6
    fresh = Workspace.create(
        tmp_path / "fresh", Config(repository=ws.config.repository), lambda *a, **k: None
    )
    report = exchange.import_bundle(fresh, bundle)
    assert len(report.keys_added) == 6 and not report.keys_present
    assert snapshot(fresh.keys_dir) == snapshot(ws.keys_dir)
    again = exchange.import_bundle(writable(fresh.root), bundle)
    assert len(again.keys_present) == 6 and not again.keys_added

    broken = Bundle("keys", ws.config.repository, [BundleFile("keys/x.json", b'{"keytype": 1}')])
    before = snapshot(fresh.root)
    with pytest.raises(TransferError, match=r"keys/x\.json in the bundle"):
        exchange.import_bundle(writable(fresh.root), broken)
    assert snapshot(fresh.root) == before


def test_publish_bundle_stages_newer_targets_for_review(people, workspace, tmp_path):
    _holders, online = people
    publish_root(people, workspace)
    other = tmp_path / "site-b"
    shutil.copytree(workspace, other)
    assert ceremony(workspace, "targets", "bump") == 0
    review(workspace, "targets")
    assert ceremony(workspace, "sign", "targets", "--token", online["targets"].token) == 0
    assert ceremony(workspace, "publish", "targets") == 0

    bundle = exchange.build_export(Workspace.open(workspace))
    assert {"metadata/targets.json", "metadata/1.targets.json"} <= {f.name for f in bundle.files}
    report = exchange.import_bundle(writable(other), bundle)
    [result] = report.roles
    assert (result.role, result.version, result.staged) == ("targets", 1, True)
    assert [h.split(" ")[0] for h in result.added] == ["Dave"]
    [state] = signing.status(Workspace.open(other))
    assert state.role == "targets" and state.complete and not state.reviewed

    # into the workspace that made it: all of it is already published
    same = exchange.import_bundle(writable(workspace), bundle)
    assert not same.roles and any("not newer" in note for note in same.notes)


def test_publish_bundle_with_a_different_root_is_refused(people, workspace):
    publish_root(people, workspace)
    ws = writable(workspace)
    bundle = exchange.build_export(ws)
    root = bundle.file("metadata/1.root.json")
    altered = json.dumps(json.loads(root.data)).encode()  # same content, other bytes
    files = [f for f in bundle.files if f.name != root.name] + [BundleFile(root.name, altered)]
    before = snapshot(workspace)
    with pytest.raises(CheckFailed, match=r"different root v1 .* forked"):
        exchange.import_bundle(ws, Bundle("publish", ws.config.repository, files))
    assert snapshot(workspace) == before


def test_unused_files_are_noted_not_written(people, workspace, tmp_path):
    other = two_sites(people, workspace, tmp_path)
    bundle = exchange.build_export(Workspace.open(other), partial=True)
    extra = Bundle(
        "partial", bundle.repository, [*bundle.files, BundleFile("keys/evil.json", b"{}")]
    )
    report = exchange.import_bundle(writable(workspace), extra)
    assert any(note.startswith("keys/evil.json") for note in report.notes)
    assert not (workspace / "keys" / "evil.json").exists()
