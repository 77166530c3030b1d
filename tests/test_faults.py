"""Faulty tokens at the command line: the workspace stays whole, the words say why.

Each case runs `ceremony` in a child process over the fault-injecting
PKCS#11 module (tests/faultmod.py), with one fault armed through the
environment: a signature with one bit flipped, a token pulled out during
login, key generation or signing, a session lost, a device error. Whatever
happens, there is no traceback, the exit code is not zero, the message has
a "What to do" line, the PIN appears nowhere, and every file of the
workspace is byte for byte what it was (the ceremony record may only grow:
it records the error).

Every python-pkcs11 failure is one of our own errors by the time it reaches
the command line (ceremony.tokens.translate).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ceremony import tokens
from tests.conftest import USER_PIN
from tests.kit import ceremony, make_people, review, root_args

REPO = Path(__file__).resolve().parent.parent


def _pin(_prompt: str) -> str:
    return USER_PIN


@pytest.fixture
def staged_root(lib, make_token, tmp_path, monkeypatch):
    """A workspace with root v1 staged and reviewed, and its holders."""
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    holders, online = make_people(lib, make_token, tmp_path / "people")
    ws = tmp_path / "ws"
    assert ceremony(ws, *root_args(holders, online)) == 0
    review(ws, "root")
    return ws, holders


def _snapshot(workspace: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(workspace)): path.read_bytes()
        for path in sorted(workspace.rglob("*"))
        if path.is_file()
    }


def _assert_unchanged(before: dict[str, bytes], workspace: Path) -> None:
    """Every file as it was; transcripts may only have grown at their end."""
    after = _snapshot(workspace)
    for name, data in before.items():
        assert name in after, f"{name} disappeared"
        if name.startswith("transcripts/"):
            assert after[name].startswith(data), f"{name} was rewritten"
        else:
            assert after[name] == data, f"{name} changed"
    added = sorted(set(after) - set(before))
    assert all(name.startswith("transcripts/") for name in added), added


def _run(faults, workspace: Path, *argv: str, rules: tuple[str, ...] = ()):
    env = faults.child_env(*rules)
    env.update(CEREMONY_PIN=USER_PIN, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "ceremony", "--workspace", str(workspace), *argv]
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def _assert_refused_in_words(result) -> None:
    output = result.stdout + result.stderr
    assert result.returncode not in (0, None), output
    assert "Traceback" not in output, output
    assert "What to do:" in result.stderr, output
    assert USER_PIN not in output


def test_unfaulted_sign_changes_the_staged_root(faults, staged_root):
    """The control case: without a fault the same command signs, so the
    comparisons below could fail."""
    ws, holders = staged_root
    before = _snapshot(ws)
    result = _run(faults, ws, "sign", "root", "--token", holders[0].token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _snapshot(ws)["staged/root.json"] != before["staged/root.json"]


def test_flipped_signature_is_caught_and_never_stored(faults, staged_root):
    ws, holders = staged_root
    before = _snapshot(ws)
    result = _run(faults, ws, "sign", "root", "--token", holders[0].token, rules=("C_Sign 1 flip",))
    _assert_refused_in_words(result)
    assert result.returncode == 1
    assert "does not verify" in result.stderr
    assert "signed and verified" not in result.stdout
    _assert_unchanged(before, ws)


LOGIN_FAULTS = [
    pytest.param("C_Login 1 CKR_TOKEN_NOT_PRESENT", id="login-token-not-present"),
    pytest.param("C_Login 1 CKR_PIN_LOCKED", id="login-pin-locked"),
    pytest.param("C_Login 1 CKR_DEVICE_REMOVED", id="login-device-removed"),
    pytest.param("C_Login 1 CKR_DEVICE_ERROR", id="login-device-error"),
    pytest.param("C_OpenSession 1 CKR_TOKEN_NOT_PRESENT", id="open-session"),
]
SIGN_FAULTS = [
    pytest.param("C_SignInit 1 CKR_DEVICE_REMOVED", id="sign-init-removed"),
    pytest.param("C_Sign 1 CKR_DEVICE_REMOVED", id="sign-removed"),
    pytest.param("C_Sign 1 CKR_TOKEN_NOT_PRESENT", id="sign-not-present"),
    pytest.param(
        "C_Sign 1 CKR_SESSION_HANDLE_INVALID", id="sign-session-lost"
    ),
    pytest.param("C_Sign 1 CKR_DEVICE_ERROR", id="sign-device-error"),
    pytest.param("C_Sign 1 CKR_FUNCTION_FAILED", id="sign-failed"),
    pytest.param("C_Sign 1 CKR_DEVICE_REMOVED after", id="sign-answer-lost"),
]


@pytest.mark.parametrize("rule", LOGIN_FAULTS + SIGN_FAULTS)
def test_token_fails_while_signing(faults, staged_root, rule):
    ws, holders = staged_root
    before = _snapshot(ws)
    result = _run(faults, ws, "sign", "root", "--token", holders[0].token, rules=(rule,))
    _assert_refused_in_words(result)
    _assert_unchanged(before, ws)


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param("C_Login 1 CKR_TOKEN_NOT_PRESENT", id="login-token-not-present"),
        pytest.param(
            "C_GenerateKeyPair 1 CKR_DEVICE_REMOVED", id="keygen-removed"
        ),
        pytest.param(
            "C_GenerateKeyPair 1 CKR_DEVICE_ERROR", id="keygen-device-error"
        ),
        pytest.param(
            "C_GenerateKeyPair 1 CKR_DEVICE_REMOVED after",
            id="keygen-half-way",
        ),
    ],
)
def test_token_fails_during_key_generation(faults, lib, make_token, tmp_path, rule):
    """No key is reported as made, the workspace is as it was, and no orphan
    key is left on the token (or the message names the one left)."""
    label = make_token("keygen")
    ws = tmp_path / "ws"
    started = _run(
        faults, ws, "audit", "start", "--title", "Keys", "--operator", "Olga", "--new-workspace"
    )
    assert started.returncode == 0, started.stdout + started.stderr
    before = _snapshot(ws)
    out = tmp_path / "key.json"
    argv = ["key", "generate", "--token", label, "--label", "root", "--owner", "Fay"]
    argv += ["-o", str(out)]
    result = _run(faults, ws, *argv, rules=(rule,))
    _assert_refused_in_words(result)
    assert not out.exists()
    _assert_unchanged(before, ws)
    with tokens.logged_in(tokens.find_token(lib, label), _pin) as session:
        left = [key.label for key in tokens.list_keys(session)]
    assert left == [] or all(name in result.stderr for name in left), left
