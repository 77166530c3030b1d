"""Small helpers the command groups share: output, module and PIN options."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ceremony import audit, tokens
from ceremony.config import configured_module
from ceremony.errors import CeremonyError


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table; readable on an 80-column console."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))


def module_path(args: argparse.Namespace) -> Path:
    return tokens.resolve_module_path(args.module, configured_module(Path(args.workspace)))


def load_lib(args: argparse.Namespace):
    return tokens.load_module(module_path(args))


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


# --------------------------------------------------------------------------
# The ceremony record for state-changing commands

_OPEN: list[audit.Transcript] = []


def begin(args: argparse.Namespace) -> audit.Transcript:
    """Preflight, then today's ceremony record; every state-changing
    command calls this before it changes anything."""
    try:
        module = module_path(args)
    except CeremonyError:
        module = None
    transcript = audit.begin(
        Path(args.workspace),
        allow_network=args.allow_network,
        operator=args.operator,
        module_path=module,
    )
    _OPEN[:] = [transcript]
    return transcript


def record(event: str, actor: str | None = None, **details: Any) -> None:
    """Record in the transcript this command opened (if it opened one)."""
    if _OPEN:
        _OPEN[0].record(event, actor, **details)


def record_error(error: CeremonyError) -> None:
    """Errors of a state-changing command go into its record too."""
    if not _OPEN:
        return
    transcript = _OPEN.pop()
    with contextlib.suppress(CeremonyError, OSError, ValueError):
        transcript.record(audit.ERROR, None, problem=error.problem, fix=error.fix)


def open_workspace(args: argparse.Namespace):
    """The workspace, with its record opened (preflight first)."""
    from ceremony.workspace import Workspace

    ws = Workspace.open(Path(args.workspace))
    transcript = begin(args)
    ws.set_recorder(transcript.record)
    return ws


def token_seen(token) -> None:
    """Record which token was used: label, serial, model, PIN state."""
    record(audit.TOKEN_SEEN, **tokens.describe_token(token.slot).to_dict())


def reset() -> None:
    """Forget the record of a previous command (in-process callers)."""
    _OPEN.clear()
