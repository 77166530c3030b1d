"""PIN files and PIN prompts: refused before a try is spent, never echoed in errors."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony import pins
from ceremony.errors import BadInput, InputEnded
from tests.conftest import USER_PIN

REPO = Path(__file__).resolve().parent.parent
SECRET = "Vx-31-secret"


def _pin_file(tmp_path: Path, data: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "pin"
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _refused(path: Path, words: str) -> BadInput:
    with pytest.raises(BadInput, match=words) as raised:
        pins.pin_source(str(path))("PIN")
    assert SECRET not in raised.value.message()
    assert raised.value.fix
    return raised.value


@pytest.mark.parametrize(
    "data",
    [
        SECRET.encode(),
        SECRET.encode() + b"\n",
        SECRET.encode() + b"\r\n",
        SECRET.encode() + b"\n\n\r\n",
        "Zoë-πin".encode(),
    ],
)
def test_good_pin_files(tmp_path, data):
    expected = data.decode().splitlines()[0]
    assert pins.pin_source(str(_pin_file(tmp_path, data)))("PIN") == expected


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o666])
def test_pin_file_others_can_read_is_refused(tmp_path, mode):
    path = _pin_file(tmp_path, SECRET.encode(), mode)
    error = _refused(path, "can be read or changed by other users")
    assert f"chmod 600 {path}" in error.fix


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xffVx-31\xfe", "not UTF-8"),
        (SECRET.encode() + b"\nsecond line\n", "more than one line"),
        (b"\n" + SECRET.encode(), "more than one line"),
        (b"", "empty"),
        (b"\n", "empty"),
        (SECRET.encode() + b"\t\n", "control character"),
        (b"x" * (pins.MAX_PIN_FILE_BYTES + 1), "more than the"),
    ],
)
def test_bad_pin_files(tmp_path, data, words):
    _refused(_pin_file(tmp_path, data), words)


def test_pin_file_that_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    _refused(fifo, "not a regular file")  # and it does not hang
    link = tmp_path / "zero"
    link.symlink_to("/dev/zero")
    _refused(link, "not a regular file")
    _refused(tmp_path / "missing", "cannot read")


def _typed(monkeypatch, *answers):
    replies = iter(answers)

    def fake_getpass(prompt: str = "") -> str:
        answer = next(replies)
        if answer is EOFError:
            raise EOFError
        return answer

    monkeypatch.setattr(getpass, "getpass", fake_getpass)


def test_ctrl_d_at_the_pin_prompt(monkeypatch):
    _typed(monkeypatch, EOFError)
    with pytest.raises(InputEnded, match="input ended at the PIN prompt"):
        pins.prompt_pin("PIN for token x")


@pytest.mark.parametrize("answers", [(EOFError,), ("abcd1234", EOFError)])
def test_ctrl_d_at_the_new_pin_prompts(monkeypatch, answers):
    monkeypatch.delenv("CEREMONY_PIN", raising=False)
    _typed(monkeypatch, *answers)
    with pytest.raises(InputEnded):
        pins.new_pin_source(None, "CEREMONY_PIN", "user PIN")


def test_new_pin_typed_twice(monkeypatch):
    monkeypatch.delenv("CEREMONY_PIN", raising=False)
    _typed(monkeypatch, "abcd1234", "abcd1234")
    assert pins.new_pin_source(None, "CEREMONY_PIN", "user PIN") == "abcd1234"
    _typed(monkeypatch, "abcd1234", "abcd1243")
    with pytest.raises(BadInput, match="differ") as raised:
        pins.new_pin_source(None, "CEREMONY_PIN", "user PIN")
    assert "abcd" not in raised.value.message()


@pytest.mark.parametrize("source", ["typed", "file", "env"])
def test_new_pin_minimum_length(monkeypatch, tmp_path, source):
    monkeypatch.delenv("CEREMONY_PIN", raising=False)
    pin_file = None
    if source == "typed":
        _typed(monkeypatch, "abc", "abc")
    elif source == "file":
        pin_file = str(_pin_file(tmp_path, b"abc\n"))
    else:
        monkeypatch.setenv("CEREMONY_PIN", "abc")
    with pytest.raises(BadInput, match="shorter than 4"):
        pins.new_pin_source(pin_file, "CEREMONY_PIN", "user PIN")


def _cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ceremony", *argv],
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_end_of_input_at_prompts_from_the_command_line(make_token, tmp_path):
    """No terminal and nothing on standard input: exit 2 with words, no traceback."""
    label = make_token("eof")
    env = {k: v for k, v in os.environ.items() if k not in ("CEREMONY_PIN", "CEREMONY_SO_PIN")}
    env["CEREMONY_WORKSPACE"] = str(tmp_path / "ws")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "ceremony.toml").write_text('[repository]\nname = "ws"\n')
    for argv in (
        ("key", "list", "--token", label),
        ("token", "init", "--label", "never-made"),
    ):
        result = _cli(*argv, env=env)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "input ended" in result.stderr and "What to do:" in result.stderr
        assert USER_PIN not in result.stdout + result.stderr
