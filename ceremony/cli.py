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
from pathlib import Path

from ceremony import __version__
from ceremony.errors import CeremonyError, CheckFailed, InputEnded
from ceremony.text import visible, visible_lines

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


def exit_code(error: CeremonyError) -> int:
    """The one place exit codes are decided: 1 a check failed, 2 bad input or usage."""
    return 1 if isinstance(error, CheckFailed) else 2


def print_error(error: CeremonyError) -> None:
    """Problem and fix on stderr, with any text from outside made visible."""
    print(f"error: {visible_lines(error.problem)}", file=sys.stderr)
    print(f"  What to do: {visible(error.fix)}", file=sys.stderr)


def _tell(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _quiet_stdout() -> None:
    """After the reader of our output went away (``| head``), say nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        return


def main(
    argv: Sequence[str] | None = None, *, pin: str | None = None, so_pin: str | None = None
) -> int:
    """Entry point of the ``ceremony`` script; returns the exit code.

    ``pin`` and ``so_pin`` let an in-process caller (the rehearsal) answer
    PIN prompts without putting a PIN in the environment.
    """
    parser = build_parser()
    args = parser.parse_args(argv)  # --help and usage errors end here, before the core loads
    from ceremony.session import Ceremony

    _defaults(args)
    args.given_pin, args.given_so_pin = pin, so_pin
    func = getattr(args, "func", None)
    if func is None:
        from ceremony.commands.tui import run_tui

        func = run_tui
    ceremony = Ceremony(
        Path(args.workspace),
        operator=args.operator,
        allow_network=args.allow_network,
        module=args.module,
        on_wait=_tell,
    )
    args.ceremony = ceremony
    try:
        code = int(func(args) or 0)
        sys.stdout.flush()  # a reader that went away is seen here, not at exit
        return code
    except CeremonyError as error:
        ceremony.record_error(error)
        print_error(error)
        return exit_code(error)
    except EOFError:
        ended = InputEnded(
            "no answer was given: the input ended (Ctrl-D, or no terminal)",
            "run the command again at a terminal, or press Ctrl-C to stop",
        )
        ceremony.record_error(ended)
        print_error(ended)
        return exit_code(ended)
    except KeyboardInterrupt:
        print("interrupted: nothing more was done", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    finally:
        ceremony.close()


if __name__ == "__main__":
    sys.exit(main())
