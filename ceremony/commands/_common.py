"""Small helpers the command groups share: output, module and PIN options."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ceremony import tokens
from ceremony.config import configured_module


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
