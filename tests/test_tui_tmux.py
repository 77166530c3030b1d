"""The app as a person meets it: `ceremony` in a real terminal (tmux), keys
sent one by one, the PIN typed at the masked field, the screen read back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ceremony.workspace import Workspace
from tests.conftest import USER_PIN
from tests.kit import ceremony as cli
from tests.kit import make_people, review, root_args

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (setup.sh)")


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", "ceremony-test", *args], capture_output=True, text=True, check=False
    ).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", "app")


def wait_for(text: str, timeout: float = 40) -> str:
    """Until the terminal shows ``text``; then a moment, as a person reads before typing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = screen()
        if text in shown:
            time.sleep(0.5)
            return shown
        time.sleep(0.2)
    raise AssertionError(f"the terminal never showed {text!r}; it shows:\n{screen()}")


@pytest.fixture
def terminal():
    yield
    tmux("kill-server")


def test_sign_with_a_pin_typed_in_the_terminal(lib, make_token, tmp_path, terminal):
    holders, online = make_people(lib, make_token, tmp_path / "keys-in")
    workspace = tmp_path / "ws"
    assert cli(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    script = tmp_path / "launch.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"cd {REPO}\n"
        f"exec {sys.executable} -m ceremony --workspace {workspace} "
        "--allow-network --operator 'Olivia Operator'\n"
    )
    script.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEREMONY_PIN")}
    env["PYTHONPATH"] = str(REPO)
    subprocess.run(
        [
            "tmux",
            "-L",
            "ceremony-test",
            "new-session",
            "-d",
            "-s",
            "app",
            "-x",
            "100",
            "-y",
            "32",
            str(script),
        ],
        env=env,
        check=True,
    )
    wait_for("Review and sign a staged role")
    tmux("send-keys", "-t", "app", "5")
    wait_for("root v1: needs signatures")
    tmux("send-keys", "-t", "app", "Down", "Enter")
    wait_for("Short fingerprint")
    tmux("send-keys", "-t", "app", "c")
    wait_for("This is the token of Alice")
    tmux("send-keys", "-t", "app", USER_PIN)
    assert USER_PIN not in screen(), "the PIN is never shown"
    tmux("send-keys", "-t", "app", "Enter")
    shown = wait_for("REMOVE YOUR TOKEN")
    assert "Signed and verified for Alice" in shown and USER_PIN not in shown
    staged = Workspace.open(workspace).staged_payload("root")
    assert set(staged.signatures) == {holders[0].keyid}
    tmux("send-keys", "-t", "app", "C-q")
