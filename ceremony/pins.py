"""Where PINs come from: a prompt without echo, a file, or the environment.

A PIN source is a function called at the moment of login; the PIN it
returns goes to the token and nowhere else: not to logs, the transcript,
or any file of ours.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from ceremony.errors import BadInput
from ceremony.tokens import PinSource


def _read_pin_file(path: Path) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise BadInput(f"cannot read PIN file {path}: {error.strerror}") from None
    pin = text.rstrip("\r\n")
    if not pin:
        raise BadInput(f"PIN file {path} is empty", "put the PIN on the file's first line")
    return pin


def pin_source(pin_file: str | None, env_var: str = "CEREMONY_PIN") -> PinSource:
    """--pin-file, else $CEREMONY_PIN, else an interactive prompt."""
    if pin_file:
        return lambda _prompt: _read_pin_file(Path(pin_file))
    if os.environ.get(env_var):
        return lambda _prompt: os.environ[env_var]
    return prompt_pin


def prompt_pin(prompt: str) -> str:
    """Ask on the terminal without echo."""
    pin = getpass.getpass(f"{prompt}: ")
    if not pin:
        raise BadInput("no PIN was typed", "type the PIN, or press Ctrl-C to stop")
    return pin


def new_pin_source(pin_file: str | None, env_var: str, what: str) -> str:
    """A new PIN for token initialisation: file, env, or typed twice."""
    if pin_file:
        return _read_pin_file(Path(pin_file))
    if os.environ.get(env_var):
        return os.environ[env_var]
    first = getpass.getpass(f"New {what}: ")
    second = getpass.getpass(f"New {what} again: ")
    if first != second:
        raise BadInput(f"the two {what}s typed differ", "run the command again")
    if len(first) < 4:
        raise BadInput(f"the {what} is shorter than 4 characters", "choose a longer one")
    return first
