"""`ceremony` with no command, or `ceremony tui`: the key holders' app."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "tui",
        parents=[common],
        help="open the guided screens (also: ceremony with no command)",
        description="Open the key holders' app on the workspace: tokens, roles, review and "
        "signing, export and import, the record, runbooks. Keyboard only; '?' on any "
        "screen says what it is for.",
    )
    parser.set_defaults(func=run_tui)


def run_tui(args: argparse.Namespace) -> int:
    from tui.app import CeremonyApp

    app = CeremonyApp(args.ceremony, hint=getattr(args, "app_hint", None))
    code = app.run()
    return int(code or 0)
