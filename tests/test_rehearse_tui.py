"""`ceremony rehearse --tui`: the rehearsal's state is made, then the app opens on it.

The app itself is driven in test_tui_*.py; here, in a process of its own
(a rehearsal points SoftHSM at its own tokens), the app is stopped as it
opens, to check what the people practising would find.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from ceremony.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
STOP_AT_OPEN = """
import json, os, sys
from ceremony.cli import main
from tui.app import CeremonyApp

def opened(app):
    print(json.dumps({
        "hint": app.hint,
        "runbook": getattr(app.runbook, "name", None),
        "pin_in_environment": "CEREMONY_PIN" in os.environ,
    }))
    return 0

CeremonyApp.run = opened
sys.exit(main(sys.argv[1:]))
"""


def run_python(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """A process of its own (SoftHSM is pointed at tokens per process), no PIN in its env."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CEREMONY_PIN")}
    result = subprocess.run(
        argv,
        env={**base, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def rehearse_tui(*argv: str) -> dict:
    result = run_python([sys.executable, "-c", STOP_AT_OPEN, *argv])
    lines = result.stdout.strip().splitlines()
    shown = json.loads(next(line for line in lines if line.startswith("{")))
    shown["after"] = [line for line in lines if not line.startswith("{")]
    return shown


def test_rehearse_tui_opens_the_app_on_a_root_to_sign(tmp_path):
    workspace = tmp_path / "ws"
    shown = rehearse_tui("--workspace", str(workspace), "rehearse", "--tui")
    assert "rehearsal-pin" in shown["hint"] and not shown["pin_in_environment"]
    ws = Workspace.open(workspace)
    assert ws.staged_roles() == ["root"] and ws.staged_payload("root").signatures == {}
    assert (tmp_path / "ws-tokens" / "softhsm2.conf").is_file()
    # On leaving, the command that opens this rehearsal again, with its tokens.
    [again] = [line for line in shown["after"] if line.startswith("Open it again")]
    command = shlex.split(again.split(": ", 1)[1])
    assert command[0].startswith("SOFTHSM2_CONF=") and command[1:3] == [sys.executable, "-m"]
    conf = command[0].split("=", 1)[1]
    listed = run_python([*command[1:], "token", "list"], SOFTHSM2_CONF=conf)
    assert "rehearsal-alice" in listed.stdout and "rehearsal-dave" in listed.stdout


def test_rehearse_a_runbook_in_the_app_after_what_comes_before(tmp_path):
    workspace = tmp_path / "ws"
    argv = ("--workspace", str(workspace), "rehearse", "--runbook", "root-rotation", "--tui")
    shown = rehearse_tui(*argv)
    assert shown["runbook"] == "root-rotation"
    assert Workspace.open(workspace).root_versions() == [1]  # root-key-generation was rehearsed
