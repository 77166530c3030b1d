"""Small helpers the command groups share: the ceremony, output, PIN options.

Nothing here decides anything: each command asks its :class:`Ceremony`
(set on ``args.ceremony`` by ``ceremony.cli.main``) and prints what it
returns, with text from outside made visible.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ceremony.errors import InputEnded
from ceremony.text import visible

if TYPE_CHECKING:
    from ceremony.session import Ceremony
    from ceremony.tokens import PinSource


def ceremony_of(args: argparse.Namespace) -> Ceremony:
    """The ceremony this command runs in (made by ceremony.cli.main)."""
    found: Ceremony = args.ceremony
    return found


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table; readable on an 80-column console. Cells are made visible."""
    cells = [[str(h) for h in headers]] + [[visible(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))


def add_pin_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pin-file",
        metavar="FILE",
        help="read the PIN from FILE (for automation; default: $CEREMONY_PIN, else ask)",
    )
    parser.add_argument(
        "--final-try",
        action="store_true",
        help="the token has one PIN try left and you are sure of the PIN: try it",
    )


def pin_source_for(args: argparse.Namespace) -> PinSource:
    """--pin-file, $CEREMONY_PIN, a PIN handed in by an in-process caller, or a prompt."""
    from ceremony import pins

    given = getattr(args, "given_pin", None)
    if given is not None and not getattr(args, "pin_file", None):
        return lambda _prompt: given
    return pins.pin_source(getattr(args, "pin_file", None))


def ask(question: str) -> str:
    """One line from the person at the terminal; end of input is our own error."""
    try:
        return input(question)
    except EOFError:
        raise InputEnded(
            "no answer was given: the input ended (Ctrl-D, or no terminal)",
            "run the command again at a terminal and answer the question, "
            "or press Ctrl-C to stop",
        ) from None


def interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
