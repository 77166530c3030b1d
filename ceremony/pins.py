"""Where PINs come from: a prompt without echo, a file, or the environment.

A PIN source is a function called at the moment of login; the PIN it
returns goes to the token and nowhere else: not to logs, the transcript,
any file of ours, or an error message. A PIN that cannot be right is
refused before it reaches the token, because every wrong one spends a try.
"""

from __future__ import annotations

import getpass
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ceremony.errors import BadInput, InputEnded
from ceremony.fsutil import read_bounded
from ceremony.tokens import PinSource

MAX_PIN_FILE_BYTES = 1024
"""PKCS#11 PINs are at most a few hundred bytes; nothing longer is a PIN file."""
MIN_NEW_PIN_LENGTH = 4
"""The shortest new PIN accepted here; the token may ask for more."""


def _private_only(path: Path) -> Callable[[os.stat_result], None]:
    def check(info: os.stat_result) -> None:
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise BadInput(
                f"PIN file {path} can be read or changed by other users "
                f"(mode {stat.filemode(info.st_mode)})",
                f"chmod 600 {path}, so only its owner can read it; then run again",
            )

    return check


def _read_pin_file(path: Path) -> str:
    """The PIN on the first line of a private, small, UTF-8 file."""
    data = read_bounded(path, MAX_PIN_FILE_BYTES, "PIN file", check=_private_only(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(
            f"PIN file {path} is not UTF-8 text", "write the PIN as plain text on one line"
        ) from None
    first, _, rest = text.partition("\n")
    pin = first.removesuffix("\r")
    if rest.strip("\r\n"):
        raise BadInput(
            f"PIN file {path} has more than one line",
            "put only the PIN in the file, on its first line (a wrong PIN spends a try)",
        )
    if not pin:
        raise BadInput(f"PIN file {path} is empty", "put the PIN on the file's first line")
    _refuse_control_characters(pin, f"PIN file {path}")
    return pin


def _refuse_control_characters(pin: str, where: str) -> None:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in pin):
        raise BadInput(
            f"{where} holds a control character (such as a tab), which no PIN has",
            "write the PIN as plain text on one line",
        )


def pin_source(pin_file: str | None, env_var: str = "CEREMONY_PIN") -> PinSource:
    """--pin-file, else $CEREMONY_PIN, else an interactive prompt."""
    if pin_file:
        return lambda _prompt: _read_pin_file(Path(pin_file))
    if os.environ.get(env_var):
        return lambda _prompt: os.environ[env_var]
    return prompt_pin


def _ask(prompt: str) -> str:
    """One line typed without echo; Ctrl-D is our error, not a traceback."""
    try:
        return getpass.getpass(f"{prompt}: ")
    except EOFError:
        raise InputEnded(
            "input ended at the PIN prompt (Ctrl-D, or no terminal): no PIN was given",
            "run the command again and type the PIN; for automation give --pin-file FILE",
        ) from None


def prompt_pin(prompt: str) -> str:
    """Ask on the terminal without echo."""
    pin = _ask(prompt)
    if not pin:
        raise BadInput("no PIN was typed", "type the PIN, or press Ctrl-C to stop")
    return pin


def new_pin_source(pin_file: str | None, env_var: str, what: str) -> str:
    """A new PIN for token initialisation: file, env, or typed twice."""
    if pin_file:
        pin = _read_pin_file(Path(pin_file))
    elif os.environ.get(env_var):
        pin = os.environ[env_var]
    else:
        pin = _ask(f"New {what}")
        if pin != _ask(f"New {what} again"):
            raise BadInput(f"the two {what}s typed differ", "run the command again")
    _refuse_control_characters(pin, f"the new {what}")
    if len(pin) < MIN_NEW_PIN_LENGTH:
        raise BadInput(
            f"the new {what} is shorter than {MIN_NEW_PIN_LENGTH} characters",
            "choose a longer one",
        )
    return pin
