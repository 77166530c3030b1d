"""What a newcomer hit, as a person would meet it: each ends in words, not a traceback.

Prompts are answered through a real pseudo-terminal (Ctrl-D is end of
input there), pipes are closed under the command, workspaces are mistyped.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import USER_PIN
from tests.kit import ceremony, make_people, review, root_args
from tests.test_session import unplugged

REPO = Path(__file__).resolve().parent.parent
CTRL_D = b"\x04"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), CEREMONY_ALLOW_NETWORK="1")
    env.pop("CEREMONY_PIN", None)
    env.update(extra)
    return env


def run_in_terminal(argv: list[str], answers: list[tuple[bytes, bytes]], env=None):
    """Run ``ceremony argv`` on a pseudo-terminal; answer each prompt when it shows."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty
        os.execve(sys.executable, [sys.executable, "-m", "ceremony", *argv], env or child_env())
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if pending and pending[0][0] in output:
            os.write(fd, pending.pop(0)[1])
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace")


def run(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ceremony", *argv],
        env=kw.pop("env", None) or child_env(),
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal: prompts read stdin
        timeout=120,
        **kw,
    )


@pytest.fixture
def people(lib, make_token, tmp_path):
    return make_people(lib, make_token, tmp_path / "keys-in")


# ------------------------------------------------------------ end of input


def test_ctrl_d_at_the_pin_prompt(make_token, workspace):
    label = make_token("eof")
    (workspace / "ceremony.toml").write_text('[repository]\nname = "eof"\n')
    argv = ["--workspace", str(workspace), "key", "generate", "--token", label, "--label", "k"]
    code, out = run_in_terminal(argv, [(b"PIN for token", CTRL_D)])
    assert code == 2, out
    assert "input ended" in out and "Traceback" not in out


def test_ctrl_d_at_the_new_pin_prompt(workspace):
    (workspace / "ceremony.toml").write_text('[repository]\nname = "eof"\n')
    argv = ["--workspace", str(workspace), "token", "init", "--label", "never"]
    code, out = run_in_terminal(argv, [(b"New security officer PIN", CTRL_D)])
    assert code == 2, out
    assert "input ended" in out and "Traceback" not in out


def test_ctrl_d_at_the_insert_token_prompt(people, workspace, softhsm_conf, tmp_path):
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    before = (workspace / "staged" / "root.json").read_bytes()
    with unplugged(softhsm_conf, holders[0].serial, tmp_path / "aside"):
        argv = ["--workspace", str(workspace), "sign", "root"]
        code, out = run_in_terminal(argv, [(b"Insert the token of Alice", CTRL_D)])
    assert code == 2, out
    assert "does not hold the key of Alice" in out
    assert "input ended" in out and "Traceback" not in out
    assert (workspace / "staged" / "root.json").read_bytes() == before


def test_pin_typed_at_the_prompt_signs(people, workspace):
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    argv = ["--workspace", str(workspace), "sign", "root", "--token", holders[0].token]
    code, out = run_in_terminal(argv, [(b"PIN for token", USER_PIN.encode() + b"\n")])
    assert code == 0, out
    assert "signed and verified: Alice" in out and USER_PIN not in out


# ----------------------------------------------------------------- pipes


def test_a_closed_pipe_ends_quietly(people, workspace):
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    for argv in (["status", "--json"], ["review", "root"], ["audit", "show"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "ceremony", "--workspace", str(workspace), *argv],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader went away before anything was written
        err = proc.stderr.read().decode()
        proc.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipe" not in err, (argv, err)
        assert proc.returncode != 0


# ------------------------------------------------------------- workspaces


def test_a_mistyped_workspace_is_not_created(make_token, tmp_path):
    typo = tmp_path / "ceremony-wrokspace"
    label = make_token("typo")
    result = run(
        ["--workspace", str(typo), "key", "generate", "--token", label, "--label", "k"],
        env=child_env(CEREMONY_PIN=USER_PIN),
    )
    assert result.returncode == 2
    assert "not a ceremony workspace" in result.stderr and "Traceback" not in result.stderr
    result = run(["--workspace", str(typo), "audit", "start", "--title", "T"])
    assert result.returncode == 2 and "--new-workspace" in result.stderr
    assert not typo.exists()
    result = run(["--workspace", str(typo), "audit", "start", "--title", "T", "--new-workspace"])
    assert result.returncode == 0, result.stderr
    assert (typo / "ceremony.toml").is_file()


def test_audit_start_while_a_record_is_open(workspace):
    start = ["--workspace", str(workspace), "audit", "start", "--title", "First"]
    assert run([*start, "--new-workspace"]).returncode == 0
    again = run(["--workspace", str(workspace), "audit", "start", "--title", "Second"])
    assert again.returncode == 2
    assert "already open" in again.stderr and "audit close" in again.stderr
    assert len(list((workspace / "transcripts").iterdir())) == 1


def test_after_close_a_command_needs_an_operator(people, workspace):
    holders, online = people
    start = ["--workspace", str(workspace), "audit", "start", "--title", "T"]
    assert run([*start, "--new-workspace"]).returncode == 0
    assert run(["--workspace", str(workspace), "audit", "close"]).returncode == 0
    env = child_env()
    env.pop("CEREMONY_OPERATOR", None)
    result = run(["--workspace", str(workspace), *root_args(holders, online)], env=env)
    assert result.returncode == 2
    assert "operator" in result.stderr and "audit start" in result.stderr
    assert not (workspace / "staged" / "root.json").exists()


# ------------------------------------------------------------ other words


def test_revoke_when_no_delegation_remains(people, workspace, monkeypatch):
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    for holder in holders[:2]:
        assert ceremony(workspace, "sign", "root", "--token", holder.token) == 0
    assert ceremony(workspace, "publish", "root") == 0
    delegate = ["targets", "delegate", "pkgs", "--key", str(holders[2].key_file), "--paths", "p/*"]
    assert ceremony(workspace, *delegate) == 0
    assert ceremony(workspace, "targets", "revoke", "pkgs") == 0
    result = run(["--workspace", str(workspace), "targets", "revoke", "pkgs"])
    assert result.returncode == 2
    assert "delegates nothing" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_softhsm_conf_is_not_blamed_on_the_module(tmp_path):
    (tmp_path / "ceremony.toml").write_text('[repository]\nname = "x"\n')
    env = child_env(SOFTHSM2_CONF=str(tmp_path / "missing.conf"))
    result = run(["--workspace", str(tmp_path), "token", "list"], env=env)
    assert result.returncode == 2
    assert "SOFTHSM2_CONF" in result.stderr and "missing.conf" in result.stderr
    assert "the module itself is fine" in result.stderr


def test_a_broken_pem_key_is_called_a_pem_problem(tmp_path):
    key = tmp_path / "broken.pem"
    key.write_text("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n")
    result = run(["--workspace", str(tmp_path / "ws"), "root", "init", "--key", f"root={key}"])
    assert result.returncode == 2
    assert "is not a PEM public key" in result.stderr and "valid JSON" not in result.stderr


def test_every_error_says_what_to_do(people, workspace):
    """A sample of refusals from different layers: each has a 'What to do' line."""
    cases = [
        ["review", "nosuchrole"],
        ["publish", "root"],
        ["sign", "root", "--token", "nosuchtoken"],
        ["targets", "delegate", "3.root", "--key", "/nonexistent", "--paths", "x"],
        ["verify", "--warn-days", "-1"],
        ["audit", "verify", "nosuchfile.jsonl"],
    ]
    (workspace / "ceremony.toml").write_text('[repository]\nname = "x"\n')
    for argv in cases:
        result = run(["--workspace", str(workspace), *argv])
        assert result.returncode in (1, 2), (argv, result.stderr)
        assert "What to do:" in result.stderr and "Traceback" not in result.stderr, argv
