"""`ceremony` with no command: the guided screen (arrives with the TUI)."""

from __future__ import annotations

import argparse

from ceremony.errors import BadInput


def run_tui(args: argparse.Namespace) -> int:
    raise BadInput(
        "the guided screen is not part of this version yet",
        "use the commands listed by: ceremony --help",
    )
