"""`ceremony token ...` and `ceremony key ...` as a key holder runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ceremony.cli import main
from ceremony.keys import URI_FIELD, load_key_file
from tests.conftest import SO_PIN, USER_PIN


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_token_init_list_generate_export(capsys, tmp_path, monkeypatch, pin_file):
    so_file = tmp_path / "so.txt"
    so_file.write_text(SO_PIN)
    so_file.chmod(0o600)
    code, out, _ = run(
        capsys,
        "token",
        "init",
        "--label",
        "cli-alice",
        "--so-pin-file",
        str(so_file),
        "--pin-file",
        str(pin_file),
    )
    assert code == 0 and "initialised" in out
    code, out, _ = run(capsys, "token", "list", "--json")
    entry = next(e for e in json.loads(out) if e["label"] == "cli-alice")
    assert entry["pin_state"] == ["ok"] and "ed25519" in entry["key_types"]

    key_file = tmp_path / "alice.json"
    code, out, _ = run(
        capsys,
        "key",
        "generate",
        "--token",
        entry["serial"],
        "--label",
        "root-1",
        "--owner",
        "Alice",
        "--type",
        "ecdsa-p384",
        "--pin-file",
        str(pin_file),
        "-o",
        str(key_file),
    )
    assert code == 0, out
    assert "born on the token" in out and "NEVER_EXTRACTABLE  True" in out
    key = load_key_file(key_file)
    assert key.scheme == "ecdsa-sha2-nistp384"
    assert f"serial={entry['serial']}" in key.unrecognized_fields[URI_FIELD]

    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    code, out, _ = run(capsys, "key", "list", "--token", "cli-alice", "--json")
    [listed] = json.loads(out)
    assert listed["keyid"] == key.keyid and listed["owner"] == "Alice"
    assert listed["born_on_token"] is True

    export = tmp_path / "again.json"
    code, out, _ = run(
        capsys, "key", "export", "--token", "cli-alice", "--label", "root-1", "-o", str(export)
    )
    assert code == 0 and load_key_file(export) == key

    code, _, err = run(capsys, "key", "generate", "--token", "cli-alice", "--label", "root-1")
    assert code == 2 and "already exists" in err


def test_key_export_refuses_extractable(capsys, lib, make_token, pin, tmp_path, monkeypatch):
    from ceremony import tokens
    from tests.test_tokens import make_extractable_key

    label = make_token("cli-weak")
    with tokens.logged_in(tokens.find_token(lib, label), pin, rw=True) as session:
        make_extractable_key(session, "weak")
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    out_file = tmp_path / "weak.json"
    code, _, err = run(
        capsys, "key", "export", "--token", label, "--label", "weak", "-o", str(out_file)
    )
    assert code == 2 and "not fit to be a TUF signing key" in err and not out_file.exists()
    code, _, _ = run(
        capsys,
        "key",
        "export",
        "--token",
        label,
        "--label",
        "weak",
        "-o",
        str(out_file),
        "--allow-exportable",
    )
    assert code == 0 and out_file.exists()


def test_wrong_pin_exit_code_and_message(capsys, make_token, monkeypatch):
    label = make_token("cli-pin")
    monkeypatch.setenv("CEREMONY_PIN", "99999999")
    code, _, err = run(capsys, "key", "list", "--token", label)
    assert code == 1
    assert "wrong PIN" in err and "tries low" in err and "99999999" not in err


def test_missing_module_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "--module", str(tmp_path / "x.so"), "token", "list")
    assert code == 2 and str(tmp_path / "x.so") in err and "What to do" in err


def test_module_option_after_command(capsys, tmp_path):
    code, _, err = run(capsys, "token", "list", "--module", str(tmp_path / "y.so"))
    assert code == 2 and "y.so" in err


def test_missing_token_exit_2(capsys):
    code, _, err = run(capsys, "key", "list", "--token", "nobody-has-this")
    assert code == 2 and "nobody-has-this" in err


def test_reinit_refused_names_keys(capsys, make_token, pin, lib, tmp_path):
    from ceremony import tokens

    label = make_token("cli-reinit")
    with tokens.logged_in(tokens.find_token(lib, label), pin, rw=True) as session:
        tokens.generate_key(session, "ecdsa-p256", "keep-me")
    code, _, err = run(capsys, "token", "init", "--label", "x", "--token", label)
    assert code == 2 and "keep-me" in err and "--erase" in err


def _command_paths(parser=None, prefix=()):
    """Every command and subcommand of the real parser."""
    import argparse

    from ceremony.cli import build_parser

    parser = parser or build_parser()
    yield list(prefix)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _command_paths(child, (*prefix, name))


@pytest.mark.parametrize("argv", list(_command_paths()), ids=lambda a: " ".join(a) or "ceremony")
def test_help_is_written_for_key_holders(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "usage: ceremony" in text
    description = text[text.index("\n\n") :].split("options:")[0]
    assert len(description.split()) >= 8, f"{argv}: describe the command in words"


def test_python_dash_m_works():
    result = subprocess.run(
        [sys.executable, "-m", "ceremony", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "hardware tokens" in result.stdout
