"""The command line: parse, call ceremony.*, print.

Each command group lives in ``ceremony/commands/`` and registers itself
here; no PKCS#11 or TUF logic sits in this layer. Every error of our own is
printed as "problem / what to do" with its exit code (2 bad input, 1 failed
check).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ceremony import __version__
from ceremony.commands._common import record_error, reset
from ceremony.errors import CeremonyError

DESCRIPTION = """\
tuf-ceremony runs the offline part of a TUF repository: it creates keys
inside hardware tokens (HSMs, smartcards, YubiKeys), creates and rotates the
root of trust, signs delegations, keeps a tamper-evident record of the
ceremony and carries the signed files to the online server by USB stick or
animated QR code. New here? Practise first: ceremony --workspace DIR rehearse."""


def _common_options() -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--workspace",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the ceremony workspace (default: $CEREMONY_WORKSPACE or the current directory)",
    )
    common.add_argument(
        "--module",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the PKCS#11 module (.so) of your token "
        "(default: $CEREMONY_PKCS11_MODULE, ceremony.toml, or a known install path)",
    )
    common.add_argument(
        "--allow-network",
        action="store_true",
        default=argparse.SUPPRESS,
        help="go on although this computer is online (rehearsals only; "
        "$CEREMONY_ALLOW_NETWORK=1); written in the record as an exception",
    )
    common.add_argument(
        "--operator",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="who runs the laptop, for the ceremony record ($CEREMONY_OPERATOR)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    from ceremony.commands import register_all

    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="ceremony",
        description=DESCRIPTION,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(sub, common)
    return parser


def _defaults(args: argparse.Namespace) -> None:
    if not hasattr(args, "workspace"):
        args.workspace = os.environ.get("CEREMONY_WORKSPACE") or os.getcwd()
    if not hasattr(args, "module"):
        args.module = None
    if not hasattr(args, "allow_network"):
        args.allow_network = os.environ.get("CEREMONY_ALLOW_NETWORK", "") in ("1", "yes", "true")
    if not hasattr(args, "operator"):
        args.operator = os.environ.get("CEREMONY_OPERATOR") or None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ceremony`` script; returns the exit code."""
    reset()
    parser = build_parser()
    args = parser.parse_args(argv)
    _defaults(args)
    func = getattr(args, "func", None)
    if func is None:
        from ceremony.commands.tui import run_tui

        func = run_tui
    try:
        return int(func(args) or 0)
    except CeremonyError as error:
        record_error(error)
        print(f"error: {error.message()}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing more was done", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
