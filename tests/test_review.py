"""review: what a staged role changes, in words, and the hash to compare.

Workspaces are built with python-tuf's Metadata API and in-memory ECDSA
keys; the token flow is tested elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Role,
    Root,
    SuccinctRoles,
    TargetFile,
    Targets,
)
from tuf.api.serialization.json import CanonicalJSONSerializer

from ceremony import cli
from ceremony.config import Config
from ceremony.errors import BadInput
from ceremony.review import Review, confirm_review, describe_staged
from ceremony.words import from_words
from ceremony.workspace import Workspace
from tests.tufkit import NOW, TOP, holder


@pytest.fixture
def people() -> dict[str, CryptoSigner]:
    names = ("Alice", "Bob", "Carol", "Dave", "Erin", "targets-key", "snap", "stamp")
    return {name: holder(name) for name in names}


@pytest.fixture
def events() -> list[tuple[str, dict]]:
    return []


@pytest.fixture
def workspace(tmp_path: Path, events) -> Workspace:
    return Workspace.create(
        tmp_path / "ws",
        Config(repository="ws"),
        lambda event, actor=None, **details: events.append((event, details)),
    )


def review(workspace: Workspace, role: str) -> Review:
    """What the review command does: describe (no side effect), then confirm."""
    result = describe_staged(workspace, role)
    confirm_review(workspace, result)
    return result


def make_root(version: int, people, root_holders: list[str], threshold: int) -> Metadata[Root]:
    root = Root(version=version, expires=NOW + timedelta(days=365), consistent_snapshot=True)
    root.roles = {name: Role([], 1) for name in TOP}
    for name in root_holders:
        root.add_key(people[name].public_key, "root")
    root.add_key(people["targets-key"].public_key, "targets")
    root.add_key(people["snap"].public_key, "snapshot")
    root.add_key(people["stamp"].public_key, "timestamp")
    root.roles["root"].threshold = threshold
    return Metadata(root)


def test_root_v1_shows_everything(workspace, people, events):
    workspace.stage("root", make_root(1, people, ["Alice", "Bob", "Carol"], 2), None)
    result = review(workspace, "root")
    text = "\n".join(result.lines())
    assert "nothing published yet" in text
    assert "Consistent snapshots: on" in text
    assert "root: threshold 2 of 3 keys" in text
    for name in ("Alice", "Bob", "Carol", "targets-key", "snap", "stamp"):
        key = people[name].public_key
        assert f"{name} ({key.keyid[:8]}, ecdsa-sha2-nistp256)" in text
    for role in ("targets", "snapshot", "timestamp"):
        assert f"{role}: threshold 1 of 1 keys" in text
    assert "Expires:" in text and "(in 36" in text
    assert events == [
        (
            "review_shown",
            {
                "role": "root",
                "version": 1,
                "payload_sha256": result.payload_sha256,
                "changes": result.change_lines(),
            },
        )
    ]
    assert workspace.staged_state("root").reviewed_sha256 == result.payload_sha256


def publish_root(workspace, people, holders, threshold, version=1) -> Metadata[Root]:
    root = make_root(version, people, holders, threshold)
    for name in holders:
        root.sign(people[name], append=True)
    workspace.write_published("root", root)
    return root


def test_rotation_shows_keys_by_owner_and_threshold(workspace, people):
    publish_root(workspace, people, ["Alice", "Bob", "Carol"], 2)
    new = make_root(2, people, ["Alice", "Dave", "Erin"], 3)
    new.signed.consistent_snapshot = False
    workspace.stage("root", new, 1)
    text = "\n".join(review(workspace, "root").lines())
    dave, bob = people["Dave"].public_key.keyid[:8], people["Bob"].public_key.keyid[:8]
    assert "Version: 1 -> 2" in text
    assert f"root: key added:   Dave ({dave}" in text
    assert f"root: key removed: Bob ({bob}" in text
    assert "Erin" in text and "Carol" in text
    assert "Alice" not in text  # unchanged keys are not news
    assert "root: threshold 2 -> 3 (of 3 keys)" in text
    assert "Consistent snapshots: on -> off" in text
    assert "unchanged keys and thresholds: targets, snapshot, timestamp" in text


def targets_with(delegations: Delegations | None, version: int, files=()) -> Metadata[Targets]:
    targets = Targets(version=version, expires=NOW + timedelta(days=90))
    targets.delegations = delegations
    for name in files:
        targets.targets[name] = TargetFile(
            3, {"sha256": hashlib.sha256(name.encode()).hexdigest()}, name
        )
    return Metadata(targets)


def test_delegation_review_shows_paths_and_bins(workspace, people):
    alice, bob = people["Alice"].public_key, people["Bob"].public_key
    keys = {alice.keyid: alice, bob.keyid: bob}
    releases = DelegatedRole("releases", [alice.keyid], 1, False, paths=["rel/*"])
    old = targets_with(Delegations(keys, roles={"releases": releases}), 1, ["a.txt", "b.txt"])
    old.sign(people["targets-key"])
    workspace.write_published("targets", old)

    changed = DelegatedRole("releases", [alice.keyid, bob.keyid], 2, True, paths=["rel/*", "v2/*"])
    docs = DelegatedRole("docs", [bob.keyid], 1, False, path_hash_prefixes=["ab", "cd"])
    new = targets_with(
        Delegations(keys, roles={"releases": changed, "docs": docs}), 2, ["a.txt", "c.txt"]
    )
    workspace.stage("targets", new, 1)
    text = "\n".join(review(workspace, "targets").lines())
    assert f"delegation releases: key added:   Bob ({bob.keyid[:8]}" in text
    assert "delegation releases: threshold 1 -> 2" in text
    assert "delegation releases: paths added: v2/*" in text
    assert "delegation releases: terminating off -> on" in text
    assert "delegation added: docs: path hash prefixes ab, cd, threshold 1 of 1 keys" in text
    assert "Target files: 2 -> 2" in text
    assert "1 added: c.txt" in text and "1 removed: b.txt" in text

    bins = SuccinctRoles([bob.keyid], 1, 14, "bin")
    workspace.stage(
        "targets", targets_with(Delegations({bob.keyid: bob}, succinct_roles=bins), 2), 1
    )
    text = "\n".join(review(workspace, "targets").lines())
    assert (
        "delegation added: bin-*: 16384 hash bins (bit length 14), names bin-0000 .. bin-3fff"
        in (text)
    )
    assert "delegation removed: releases" in text and "delegation removed: docs" not in text
    assert "2 removed: a.txt, b.txt" in text


def test_payload_hash_and_words(workspace, people):
    staged = make_root(1, people, ["Alice", "Bob"], 2)
    workspace.stage("root", staged, None)
    result = review(workspace, "root")
    expected = hashlib.sha256(CanonicalJSONSerializer().serialize(staged.signed)).hexdigest()
    assert result.payload_sha256 == expected
    assert result.raw.encode() == CanonicalJSONSerializer().serialize(staged.signed)
    assert from_words(result.words).hex() == expected
    assert len(result.words) == 32
    assert from_words(result.fingerprint) == bytes.fromhex(expected)[:6]
    lines = result.lines()
    assert f"Short fingerprint: {result.fingerprint}" in lines
    spoken = [m.group(1) for line in lines if (m := re.match(r"^ +\d+-\d+ +(.*)$", line))]
    assert len(spoken) == 8
    assert from_words(" ".join(spoken)).hex() == expected


def run_cli(workspace: Workspace, *argv: str) -> int:
    return cli.main(["--workspace", str(workspace.root), *argv])


def test_cli_review_and_raw(workspace, people, capsys):
    workspace.stage("root", make_root(1, people, ["Alice", "Bob"], 2), None)
    assert run_cli(workspace, "review", "root") == 0
    out = capsys.readouterr().out
    assert "Short fingerprint" in out and "ceremony sign root" in out
    assert run_cli(workspace, "review", "root", "--raw") == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out, strict=False)  # PEM newlines are literal
    assert document["_type"] == "root"
    assert hashlib.sha256(captured.out.rstrip("\n").encode()).hexdigest() in captured.err.replace(
        " ", ""
    )


# ---------------------------------------------------------------- bad input


def stage_then_replace(workspace, people, mutate) -> Path:
    """Stage a good root, then overwrite the staged file with bad content."""
    workspace.stage("root", make_root(1, people, ["Alice", "Bob"], 2), None)
    path = workspace.staged_path("root")
    path.write_bytes(mutate(path.read_bytes()))
    return path


def _spec_2(data: bytes) -> bytes:
    document = json.loads(data)
    document["signed"]["spec_version"] = "2.0.0"
    return json.dumps(document).encode()


def _bad_keyid(data: bytes) -> bytes:
    document = json.loads(data)
    keys = document["signed"]["keys"]
    keyid = next(iter(keys))
    other = "f" * 64
    keys[other] = keys.pop(keyid)
    for role in document["signed"]["roles"].values():
        role["keyids"] = [other if k == keyid else k for k in role["keyids"]]
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda data: data[:-20], "is not valid JSON"),
        (
            lambda data: data.replace(b'"signed":{', b'"signed":{"version":7,', 1),
            "duplicate JSON key 'version'",
        ),
        (_spec_2, "spec_version '2.0.0'"),
        (_bad_keyid, "does not match its key"),
    ],
    ids=["malformed", "duplicate-key", "spec-2", "bad-keyid"],
)
def test_bad_staged_file_is_refused(workspace, people, events, capsys, mutate, message):
    stage_then_replace(workspace, people, mutate)
    state_before = (workspace.staged_dir / "root.state.json").read_bytes()
    with pytest.raises(BadInput, match=message) as raised:
        review(workspace, "root")
    assert cli.exit_code(raised.value) == 2
    assert raised.value.fix
    assert (workspace.staged_dir / "root.state.json").read_bytes() == state_before
    assert events == []


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("nosuchrole", "nothing is staged for role 'nosuchrole'"),
        ("../x", "not a usable role name"),
        ("snapshot", "online role"),
    ],
)
def test_unknown_role_is_refused(workspace, events, role, message):
    with pytest.raises(BadInput, match=message):
        review(workspace, role)
    assert events == []


def test_cli_bad_input_exit_2(workspace, people, capsys):
    assert run_cli(workspace, "review", "nosuchrole") == 2
    assert "nothing is staged" in capsys.readouterr().err
    stage_then_replace(workspace, people, lambda data: data[:-20])
    assert run_cli(workspace, "review", "root") == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert not any((workspace.root / "transcripts").iterdir())
    assert workspace.staged_state("root").reviewed_sha256 is None


def test_cli_review_writes_the_record(workspace, people, capsys):
    from ceremony import audit

    workspace.stage("root", make_root(1, people, ["Alice", "Bob"], 2), None)
    assert run_cli(workspace, "review", "root") == 0
    digest = workspace.staged_state("root").reviewed_sha256
    transcript = audit.Transcript.current(workspace.root)
    records, _ = audit.read_records(transcript.path)
    events = [r for r in records if r["event"] == "review_shown"]
    assert events and events[-1]["details"]["payload_sha256"] == digest


def test_edited_after_staging_is_refused(workspace, people, events):
    stage_then_replace(workspace, people, lambda data: data.replace(b'"version":1', b'"version":2'))
    with pytest.raises(BadInput, match="changed after it was staged"):
        review(workspace, "root")
    assert events == []
