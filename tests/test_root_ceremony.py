"""Root ceremonies on SoftHSM tokens through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from ceremony import signing
from ceremony.workspace import Workspace
from tests.conftest import USER_PIN
from tests.kit import ceremony, make_holder, make_online_key, make_people, review, root_args


@pytest.fixture
def people(lib, make_token, tmp_path, monkeypatch):
    """Three root holders, a targets holder, two online keys; PIN by env."""
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    keys = tmp_path / "keys-in"
    holders, online = make_people(lib, make_token, keys)
    return holders, online, keys


def _init_and_publish(ws: Path, holders, online) -> None:
    assert ceremony(ws, *root_args(holders, online)) == 0
    review(ws, "root")
    for holder in holders[:2]:
        assert ceremony(ws, "sign", "root", "--token", holder.token) == 0
    assert ceremony(ws, "publish", "root") == 0


def test_root_init_sign_publish(people, workspace, capsys):
    holders, online, _ = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    for name in ("ceremony.toml", "metadata", "staged", "keys", "transcripts", "exports"):
        assert (workspace / name).exists(), name
    assert len(list((workspace / "keys").glob("*.json"))) == 6
    assert ceremony(workspace, "status") == 1

    # signing before review is refused: only a reviewed payload is signed
    assert ceremony(workspace, "sign", "root", "--token", holders[0].token) == 2
    review(workspace, "root")
    assert ceremony(workspace, "sign", "root", "--token", holders[0].token) == 0
    assert ceremony(workspace, "publish", "root") == 1, "1 of 2 root signatures"
    assert not (workspace / "metadata" / "1.root.json").exists()
    err = capsys.readouterr().err
    assert "Bob" in err and "Carol" in err and holders[1].serial in err

    # signing twice with the same token adds nothing
    capsys.readouterr()
    assert ceremony(workspace, "sign", "root", "--token", holders[0].token) == 1
    assert "already signed" in capsys.readouterr().out
    assert ceremony(workspace, "sign", "root", "--token", holders[1].token) == 0
    assert ceremony(workspace, "status") == 0
    assert ceremony(workspace, "publish", "root") == 0
    root = Metadata.from_file(str(workspace / "metadata" / "1.root.json"))
    assert root.signed.consistent_snapshot and root.signed.roles["root"].threshold == 2
    assert len(root.signatures) == 2
    assert (workspace / "metadata" / "root.json").read_bytes() == (
        workspace / "metadata" / "1.root.json"
    ).read_bytes()
    assert ceremony(workspace, "publish", "root") == 2, "nothing staged any more"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--threshold", "root=0"], "threshold 0"),
        (["--threshold", "root=4"], "threshold 4"),
        (["--threshold", "root=1"], "--allow-single-root-key"),
    ],
)
def test_root_init_refusals(people, tmp_path, capsys, extra, message):
    holders, online, _ = people
    ws = tmp_path / "refused"
    assert ceremony(ws, *root_args(holders, online), *extra) == 2
    assert message in capsys.readouterr().err
    assert not ws.exists(), "a refused init writes nothing"


def test_root_init_refuses_duplicate_and_missing_keys(people, tmp_path, capsys):
    holders, online, _ = people
    ws = tmp_path / "dup"
    args = [*root_args(holders, online), "--key", f"root={holders[0].key_file}"]
    assert ceremony(ws, *args) == 2
    assert "listed twice" in capsys.readouterr().err
    without_timestamp = {k: v for k, v in online.items() if k != "timestamp"}
    assert ceremony(ws, *root_args(holders, without_timestamp)) == 2
    assert "timestamp has no keys" in capsys.readouterr().err
    assert ceremony(ws, *root_args(holders, online), "--key", "nosuch=/x") == 2
    assert not ws.exists()


def test_rotation_needs_old_threshold(people, lib, make_token, workspace, capsys):
    """Replace Bob's and Carol's keys: new keys alone cannot publish."""
    holders, online, keys = people
    alice, bob, carol = holders
    _init_and_publish(workspace, holders, online)
    erin = make_holder(lib, make_token, keys, "Erin")
    bob_new = make_holder(lib, make_token, keys, "Bob", key_label="root-2025")
    assert (
        ceremony(
            workspace,
            "root",
            "rotate",
            "--remove-key",
            "root=Bob",
            "--remove-key",
            f"root={carol.keyid[:10]}",
            "--add-key",
            f"root={erin.key_file}",
            "--add-key",
            f"root={bob_new.key_file}",
        )
        == 0
    )
    review(workspace, "root")
    capsys.readouterr()
    # Bob holds an old key and a new key on two tokens: both are asked for
    needed = signing.tokens_needed(Workspace.open(workspace), "root")
    bob_tokens = {(h.token_label, h.token_serial) for h in needed if h.owner == "Bob"}
    assert bob_tokens == {(bob.token, bob.serial), (bob_new.token, bob_new.serial)}

    for holder in (erin, bob_new):
        assert ceremony(workspace, "sign", "root", "--token", holder.token) == 0
    assert ceremony(workspace, "publish", "root") == 1, "new keys alone are refused"
    assert "current root must approve" in capsys.readouterr().err
    assert ceremony(workspace, "sign", "root", "--token", alice.token) == 0
    assert ceremony(workspace, "publish", "root") == 1, "one old key of two"
    assert ceremony(workspace, "sign", "root", "--token", bob.token) == 0
    assert ceremony(workspace, "publish", "root") == 0
    root2 = Metadata.from_file(str(workspace / "metadata" / "2.root.json")).signed
    assert set(root2.roles["root"].keyids) == {alice.keyid, erin.keyid, bob_new.keyid}


def test_guided_round_asks_each_token(people, lib, make_token, workspace, capsys):
    """Without --token every needed token is used in turn (all are present here)."""
    holders, online, keys = people
    _init_and_publish(workspace, holders, online)
    bob_new = make_holder(lib, make_token, keys, "Bob", key_label="root-new")
    assert (
        ceremony(
            workspace,
            "root",
            "rotate",
            "--remove-key",
            "root=Carol",
            "--add-key",
            f"root={bob_new.key_file}",
            "--threshold",
            "root=3",
        )
        == 0
    )
    review(workspace, "root")
    capsys.readouterr()
    assert ceremony(workspace, "sign", "root") == 0
    out = capsys.readouterr().out
    assert bob_new.serial in out, "Bob's second token was asked for and used"
    assert ceremony(workspace, "publish", "root") == 0


def test_online_key_rotation_and_expiry_renewal(people, tmp_path, workspace):
    holders, online, keys = people
    _init_and_publish(workspace, holders, online)
    new_ts = make_online_key(keys, "timestamp-2")
    old_ts = online["timestamp"]
    old_keyid = json.loads(old_ts.key_file.read_text())["keyid"]
    assert (
        ceremony(
            workspace,
            "root",
            "rotate",
            "--remove-key",
            f"timestamp={old_keyid[:12]}",
            "--add-key",
            f"timestamp={new_ts.key_file}",
        )
        == 0
    )
    review(workspace, "root")
    for holder in holders[1:]:
        assert ceremony(workspace, "sign", "root", "--token", holder.token) == 0
    assert ceremony(workspace, "publish", "root") == 0
    root2 = Metadata.from_file(str(workspace / "metadata" / "2.root.json")).signed
    assert root2.roles["timestamp"].keyids == [new_ts.signer.public_key.keyid]

    # a rotate with no key change renews the expiry
    assert ceremony(workspace, "root", "rotate", "--expires", "30") == 0
    review(workspace, "root")
    for holder in holders[:2]:
        assert ceremony(workspace, "sign", "root", "--token", holder.token) == 0
    assert ceremony(workspace, "publish", "root") == 0
    root3 = Metadata.from_file(str(workspace / "metadata" / "3.root.json")).signed
    assert root3.keys == root2.keys and root3.expires < root2.expires


def test_delegation_with_paths_and_hash_bins(people, lib, make_token, workspace):
    holders, online, keys = people
    _init_and_publish(workspace, holders, online)
    dave = online["targets"]
    pkgs = make_online_key(keys, "pkgs-online")
    assert (
        ceremony(
            workspace,
            "targets",
            "delegate",
            "pkgs",
            "--key",
            str(pkgs.key_file),
            "--paths",
            "pkgs/*",
            "docs/*.pdf",
            "--terminating",
        )
        == 0
    )
    review(workspace, "targets")
    assert ceremony(workspace, "sign", "targets", "--token", dave.token) == 0
    assert ceremony(workspace, "publish", "targets") == 0
    targets = Metadata.from_file(str(workspace / "metadata" / "targets.json")).signed
    role = targets.delegations.roles["pkgs"]
    assert role.paths == ["pkgs/*", "docs/*.pdf"] and role.terminating
    assert (workspace / "metadata" / "1.targets.json").exists()

    # hash bins: replace the named delegation by 16 succinct bins
    assert (
        ceremony(
            workspace,
            "targets",
            "delegate",
            "bins",
            "--key",
            str(pkgs.key_file),
            "--hash-bins",
            "16",
        )
        == 2
    ), "TUF allows bins or named roles, not both"
    assert ceremony(workspace, "targets", "revoke", "pkgs") == 0
    assert (
        ceremony(
            workspace,
            "targets",
            "delegate",
            "bins",
            "--key",
            str(pkgs.key_file),
            "--hash-bins",
            "16",
            "--bin-prefix",
            "bin",
        )
        == 0
    )
    assert (
        ceremony(
            workspace, "targets", "delegate", "x", "--key", str(pkgs.key_file), "--hash-bins", "12"
        )
        == 2
    ), "not a power of two"
    review(workspace, "targets")
    assert ceremony(workspace, "sign", "targets", "--token", dave.token) == 0
    assert ceremony(workspace, "publish", "targets") == 0
    targets = Metadata.from_file(str(workspace / "metadata" / "2.targets.json")).signed
    bins = targets.delegations.succinct_roles
    assert bins.bit_length == 4 and bins.name_prefix == "bin"
    assert list(bins.get_roles())[-1] == "bin-f"
    assert list(targets.delegations.keys) == [pkgs.signer.public_key.keyid]


def test_merge_signatures_from_another_site(people, workspace, tmp_path, capsys):
    holders, online, _ = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    other_site = tmp_path / "site-b"
    shutil.copytree(workspace, other_site)
    review(workspace, "root")
    review(other_site, "root")
    assert ceremony(workspace, "sign", "root", "--token", holders[0].token) == 0
    assert ceremony(other_site, "sign", "root", "--token", holders[2].token) == 0

    # a corrupted signature is checked and not kept
    tampered = tmp_path / "tampered" / "root.json"
    tampered.parent.mkdir()
    document = json.loads((other_site / "staged" / "root.json").read_text())
    sig = document["signatures"][0]
    sig["sig"] = sig["sig"][:-2] + ("00" if sig["sig"][-2:] != "00" else "11")
    tampered.write_text(json.dumps(document))
    assert ceremony(workspace, "merge", str(tampered)) == 1
    assert "do not verify" in capsys.readouterr().err
    assert ceremony(workspace, "status") == 1

    # a different proposal is refused outright
    other = json.loads((other_site / "staged" / "root.json").read_text())
    other["signed"]["version"] = 7
    different = tmp_path / "different" / "root.json"
    different.parent.mkdir()
    different.write_text(json.dumps(other))
    assert ceremony(workspace, "merge", str(different)) == 2

    capsys.readouterr()
    assert ceremony(workspace, "merge", str(other_site / "staged" / "root.json")) == 0
    assert "added: Carol" in capsys.readouterr().out
    assert ceremony(workspace, "status") == 0
    assert ceremony(workspace, "publish", "root") == 0


def test_staged_file_edited_after_review_is_refused(people, workspace, capsys):
    holders, online, _ = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    staged = workspace / "staged" / "root.json"
    document = json.loads(staged.read_text())
    document["signed"]["roles"]["root"]["threshold"] = 1
    staged.write_text(json.dumps(document, indent=1))
    before = staged.read_bytes()
    assert ceremony(workspace, "sign", "root", "--token", holders[0].token) == 2
    assert "changed after it was staged" in capsys.readouterr().err
    assert staged.read_bytes() == before, "nothing written"


def test_unknown_role_is_bad_input(people, workspace, capsys):
    holders, online, _ = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    assert ceremony(workspace, "sign", "nosuch", "--token", holders[0].token) == 2
    assert "nothing is staged for role 'nosuch'" in capsys.readouterr().err
    assert ceremony(workspace, "publish", "../etc") == 2
    assert ceremony(workspace, "targets", "bump", "snapshot") == 2
