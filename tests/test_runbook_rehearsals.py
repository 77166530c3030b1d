"""Every shipped runbook, rehearsed end to end on SoftHSM, as a person would run it.

Each rehearsal runs ``ceremony rehearse --runbook NAME`` in a child process
(private SoftHSM tokens, scripted answers), with the runbooks it needs
first. Then: every transcript verifies and is closed, each run lives in one
transcript and records every step once; where the runbook publishes,
``ceremony verify`` passes and python-tuf's ngclient, trusting only root
version 1, accepts the export served on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ceremony import audit
from ceremony.cli import main
from ceremony.rehearsal import REHEARSAL_PIN, REHEARSAL_SO_PIN
from ceremony.runbooks.library import Library
from tests.runbook_kit import check_records, ngclient_accepts, rehearse, summary

SHIPPED = (
    "provision-token",
    "root-key-generation",
    "root-rotation",
    "online-key-rotation",
    "delegation-and-renewal",
    "emergency-revocation",
    "multi-site-signing",
)
ROOT_VERSION = {
    "root-key-generation": 1,
    "root-rotation": 2,
    "online-key-rotation": 2,
    "delegation-and-renewal": 2,
    "emergency-revocation": 2,
    "multi-site-signing": 2,
}


def test_the_shipped_runbooks_are_the_seven_named():
    assert tuple(sorted(Library.load().names())) == tuple(sorted(SHIPPED))


def _events(workspace: Path, event: str) -> list[dict]:
    found = []
    for path in sorted((workspace / "transcripts").glob("*.jsonl")):
        found += [r for r in audit.read_records(path)[0] if r["event"] == event]
    return found


def _user_tokens(softhsm_conf: Path) -> list[str]:
    store = Path(softhsm_conf.read_text().split("=", 1)[1].splitlines()[0].strip())
    return sorted(p.name for p in store.iterdir())


@pytest.mark.parametrize("name", SHIPPED)
def test_rehearsed_end_to_end(name, tmp_path, softhsm_conf, capsys):
    before = _user_tokens(softhsm_conf)
    workspace = tmp_path / "ws"
    code, output = rehearse(workspace, name)
    assert code == 0, output
    assert _user_tokens(softhsm_conf) == before, "the rehearsal never touches the user's tokens"
    sites = Library.load().get(name).sites
    places = [workspace] + [tmp_path / f"ws-site-{site}" for site in sites[1:]]
    ran = []
    for place in places:
        ran += [info["runbook"] for info in check_records(place).values()]
    assert name in ran
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in everything:
        data = path.read_bytes()
        assert REHEARSAL_PIN.encode() not in data and REHEARSAL_SO_PIN.encode() not in data, path
    if name == "provision-token":
        initialised = _events(workspace, audit.TOKEN_INITIALISED)
        assert len(initialised) == 3
        assert all(r["details"]["serial"] and r["details"]["model"] for r in initialised)
        sealed = [r for r in _events(workspace, audit.STEP) if r["details"]["step"] == "seal"]
        assert len([r for r in sealed if r["details"]["state"] == "done"]) == 3
        return
    final = places[-1]
    assert main(["--workspace", str(final), "verify"]) == 0
    capsys.readouterr()
    assert summary(final)["root.json"]["version"] == ROOT_VERSION[name]
    export = tmp_path / "ws-files" / "stick" / name
    assert ngclient_accepts(export, tmp_path / "ws-files", tmp_path) == ROOT_VERSION[name]


def test_rotation_with_four_holders_and_threshold_three(tmp_path):
    """--holders and --threshold reach every runbook in the chain."""
    workspace = tmp_path / "ws"
    code, output = rehearse(workspace, "root-rotation", "--holders", "4", "--threshold", "3")
    assert code == 0, output
    check_records(workspace)
    published = summary(workspace)
    first, second = published["1.root.json"]["roles"], published["2.root.json"]["roles"]
    assert first["root"] == (3, ["Alice", "Bob", "Carol", "Dave"])
    # Dave leaves, Alice changes token, Erin joins here and Frank from elsewhere.
    assert second["root"] == (3, ["Alice", "Bob", "Carol", "Erin", "Frank"])
    proofs = [
        r
        for r in _events(workspace, audit.STEP)
        if r["details"].get("action") == "add-remote-keys" and r["details"]["state"] == "done"
    ]
    assert proofs and proofs[0]["details"]["result"] == "accepted"
    bags = json.loads((tmp_path / "ws-files" / "bags.json").read_text())
    assert "token of Erin" in bags


def test_rehearsing_again_does_nothing_twice(tmp_path):
    workspace = tmp_path / "ws"
    assert rehearse(workspace, "provision-token")[0] == 0
    code, output = rehearse(workspace, "provision-token")
    assert code == 0, output
    assert "already done here" in output
    assert len(check_records(workspace)) == 1


def test_refusals(tmp_path, capsys):
    workspace = str(tmp_path / "ws")
    assert main(["--workspace", workspace, "rehearse", "--runbook", "no-such"]) == 2
    assert "there is no runbook 'no-such'" in capsys.readouterr().err
    assert (
        main(
            ["--workspace", workspace, "rehearse", "--runbook", "root-rotation", "--threshold", "3"]
        )
        == 2
    )
    assert "2 <= T < N" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists() and not (tmp_path / "ws-tokens").exists()
