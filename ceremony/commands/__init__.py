"""Command groups of the command line.

Each module exposes ``register(sub, common)``: it adds its subcommands to
the ``sub`` action, with ``parents=[common]`` so global options work after
the command name too, and sets ``func`` on each leaf parser. A handler takes
the parsed namespace and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib

GROUPS = [
    "tokens",
    "attest",
    "metadata",
    "inspect",
    "audit",
    "rehearse",
    "transfer",
    "importrepo",
    "runbook",
    "tui",
]


def register_all(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    for name in GROUPS:
        module = importlib.import_module(f"ceremony.commands.{name}")
        module.register(sub, common)
