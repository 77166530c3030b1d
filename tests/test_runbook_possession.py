"""Proof of possession for a holder not in the room: accepted, and refused.

Root version 1 is made with the CLI on SoftHSM tokens; a rotation is staged;
a remote holder signs its challenge with the key on their own SoftHSM token.
The proof is accepted for that holder and that proposal only, and every
forgery (another owner, another proposal, another repository, another key,
private material) is refused before the key can enter the proposal.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from securesystemslib.signer import Signature

from ceremony import roles
from ceremony.cli import main
from ceremony.errors import BadInput, ProofRefused
from ceremony.possession import Challenge, Proof
from ceremony.runbooks.actions import AddRemoteKeys, Context, proof_path
from ceremony.session import Ceremony
from tests.conftest import USER_PIN
from tests.kit import ceremony as run_cli
from tests.kit import make_holder, make_people, review, root_args


@pytest.fixture
def staged(lib, make_token, tmp_path, workspace, monkeypatch):
    """A published root v1, a rotation staged, and a remote holder's token."""
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    holders, online = make_people(lib, make_token, tmp_path / "keys")
    assert run_cli(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    for holder in holders[:2]:
        assert run_cli(workspace, "sign", "root", "--token", holder.token) == 0
    assert run_cli(workspace, "publish", "root") == 0
    session = Ceremony(workspace, operator="Test Operator", allow_network=True)
    plan = roles.RootPlan(remove=[("root", "Carol")], thresholds={"root": 2})
    session.stage(session.plan_rotation(plan))
    frank = make_holder(lib, make_token, tmp_path / "keys", "Frank")
    yield session, frank, holders
    session.close()


def _prove(session: Ceremony, frank, owner: str = "Frank") -> Proof:
    challenge = session.possession_challenge()
    return session.prove_possession(frank.token, "root", owner, challenge, lambda _p: USER_PIN)


def test_accepted_for_its_holder_and_proposal(staged):
    session, frank, _ = staged
    proof = _prove(session, frank)
    assert proof.key.keyid == frank.keyid
    key = session.check_possession(Proof.from_bytes(proof.to_json(), "proof.json"), "Frank")
    assert key.keyid == frank.keyid
    challenge = session.possession_challenge()
    assert (
        challenge.root_version == 2 and challenge.repository == session.workspace.config.repository
    )


def test_refused_for_another_owner(staged):
    session, frank, _ = staged
    with pytest.raises(ProofRefused, match="carries the key of Frank"):
        session.check_possession(_prove(session, frank), "Mallory")


def test_refused_after_the_proposal_changed(staged):
    session, frank, _ = staged
    proof = _prove(session, frank)
    plan = roles.RootPlan(thresholds={"root": 2}, root_expiry_days=200)
    session.stage(session.plan_rotation(plan))
    with pytest.raises(ProofRefused, match="answers another challenge"):
        session.check_possession(proof, "Frank")


def test_refused_for_another_repository(staged):
    session, frank, _ = staged
    proof = _prove(session, frank)
    other = replace(proof, challenge=replace(proof.challenge, repository="elsewhere"))
    with pytest.raises(ProofRefused, match="answers another challenge"):
        session.check_possession(other, "Frank")


def test_refused_when_the_key_did_not_sign(staged):
    session, frank, holders = staged
    proof = _prove(session, frank)
    bob = json.loads(holders[1].key_file.read_text())
    bob.pop("keyid")
    from ceremony.keys import parse_key_bytes

    bob_key = parse_key_bytes(json.dumps(bob).encode(), "bob")
    bob_key.unrecognized_fields["x-ceremony-owner"] = "Frank"
    claimed = Proof(proof.challenge, bob_key, Signature(bob_key.keyid, proof.signature.signature))
    with pytest.raises(ProofRefused, match="does not verify"):
        session.check_possession(claimed, "Frank")
    mislabelled = Proof(proof.challenge, bob_key, proof.signature)
    with pytest.raises(ProofRefused, match="names key"):
        session.check_possession(mislabelled, "Frank")


def test_a_proof_file_with_private_material_is_refused(staged):
    session, frank, _ = staged
    document = json.loads(_prove(session, frank).to_json())
    document["key"]["keyval"]["private"] = "00" * 32
    with pytest.raises(BadInput, match="private key material"):
        Proof.from_bytes(json.dumps(document).encode(), "proof.json")
    document = json.loads(_prove(session, frank).to_json())
    document["extra"] = 1
    with pytest.raises(BadInput, match="is not a proof of possession"):
        Proof.from_bytes(json.dumps(document).encode(), "proof.json")


def _add(session: Ceremony, stick: Path):
    params = {"holders": ["Frank"], "dir": str(stick), "roles": ["root"]}
    return AddRemoteKeys().perform(Context(session, params, {}))


def test_the_runbook_action_adds_the_key_only_with_a_good_proof(staged, tmp_path):
    session, frank, _ = staged
    stick = tmp_path / "stick"
    stick.mkdir()
    ws = session.workspace
    before = ws.staged_payload("root").digest
    proof = _prove(session, frank, "Frank")
    forged = json.loads(proof.to_json())
    forged["challenge"]["root_version"] = 7
    proof_path(stick, "Frank").write_text(json.dumps(forged))
    refused = _add(session, stick)
    assert refused.result == "refused" and refused.irregular is not None
    assert "answers another challenge" in refused.irregular[1]
    assert ws.staged_payload("root").digest == before, "nothing was staged"
    proof_path(stick, "Frank").write_bytes(proof.to_json())
    accepted = _add(session, stick)
    assert accepted.result == "accepted" and accepted.outputs == {"key.Frank": frank.keyid}
    assert frank.keyid in ws.staged("root").signed.roles["root"].keyids


def test_prove_on_the_command_line(staged, tmp_path, capsys):
    session, frank, _ = staged
    challenge = tmp_path / "challenge.json"
    challenge.write_bytes(session.possession_challenge().to_json())
    out = tmp_path / "frank.proof.json"
    argv = [
        "--workspace",
        str(tmp_path / "home"),
        "runbook",
        "prove",
        "--challenge",
        str(challenge),
        "--token",
        frank.token,
        "--label",
        "root",
        "--owner",
        "Frank",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    words = Challenge.from_file(challenge).words
    assert words in capsys.readouterr().out
    assert session.check_possession(Proof.from_file(out), "Frank").keyid == frank.keyid
    assert not (tmp_path / "home").exists(), "proving at home needs no workspace"
