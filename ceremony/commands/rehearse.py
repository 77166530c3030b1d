"""`ceremony rehearse`: a whole ceremony on SoftHSM tokens, for practice."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
import sys
from pathlib import Path

from ceremony import modules
from ceremony.errors import BadInput


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "rehearse",
        parents=[common],
        help="practise a whole ceremony on software tokens",
        description="Run a complete ceremony on SoftHSM software tokens kept beside the "
        "workspace: four key holders create keys on their tokens, root version 1 is "
        "signed by two of three root holders, targets is signed, everything is verified "
        "and the ceremony record is closed. With --runbook, a runbook is walked step by "
        "step instead, with scripted answers (and the runbooks it needs first). Nothing "
        "touches real tokens. Rehearsal PINs are fixed and not secret; the network "
        "override is used and recorded.",
    )
    parser.add_argument(
        "--runbook", metavar="NAME", help="rehearse this runbook (see: ceremony runbook list)"
    )
    parser.add_argument(
        "--holders", type=int, default=3, metavar="N", help="root key holders (default 3)"
    )
    parser.add_argument(
        "--threshold", type=int, default=2, metavar="T", help="root threshold (default 2)"
    )
    parser.add_argument("--runbooks", metavar="DIR", help="a folder of the project's own runbooks")
    parser.add_argument(
        "--tui",
        action="store_true",
        help="practise in the app: holders with keys and a root waiting for their signatures "
        "(with --runbook: the runbook itself, after rehearsing what comes before it)",
    )
    parser.set_defaults(func=cmd_rehearse)


def cmd_rehearse(args: argparse.Namespace) -> int:
    if args.runbook:
        return _rehearse_runbook(args)
    if args.runbooks:
        raise BadInput("--runbooks goes with --runbook NAME", "add --runbook NAME")
    return _rehearse_commands(args)


def _rehearse_runbook(args: argparse.Namespace) -> int:
    from ceremony import rehearsal
    from ceremony.runbooks.library import Library
    from ceremony.runbooks.rehearse import rehearse

    plan = rehearsal.Rehearsal.beside(args.workspace)
    library = Library.load(plan.workspace, args.runbooks)
    library.get(args.runbook)  # an unknown name is refused before anything is made
    cast = {
        "holders": args.holders,
        "threshold": args.threshold,
        "module": args.module,
        "operator": args.operator or "Rehearsal Operator",
    }
    if args.tui:
        from ceremony.runbooks.rehearse import rehearse_before

        workspace = rehearse_before(library, args.runbook, plan, **cast)
        return _open_app(args, workspace, runbook=library.get(args.runbook))
    used = rehearse(library, args.runbook, plan, **cast)
    print(f"\nRunbook {args.runbook} rehearsed. Workspace(s): {', '.join(map(str, used))}")
    print(f"Tokens (SoftHSM): {plan.tokens_dir}")
    print("Read the records with: ceremony --workspace", plan.workspace, "audit show")
    return 0


def _rehearse_commands(args: argparse.Namespace) -> int:
    from ceremony import rehearsal
    from ceremony.cli import main

    plan = rehearsal.Rehearsal.beside(args.workspace)
    rehearsal.check_fresh(plan)
    rehearsal.use_private_softhsm(plan.tokens_dir)
    module = args.module or str(modules.resolve_module_path(None))
    rehearsal.prepare(plan)
    base = ["--workspace", str(plan.workspace), "--module", module, "--allow-network"]
    operator = args.operator or "Rehearsal Operator"

    def run(argv: list[str]) -> int:
        # The rehearsal PIN answers this process's prompts; it never enters the
        # environment, where a later command on a real token could find it.
        return main(
            [*base, "--operator", operator, *argv],
            pin=rehearsal.REHEARSAL_PIN,
            so_pin=rehearsal.REHEARSAL_SO_PIN,
        )

    start = [
        [
            "audit",
            "start",
            "--new-workspace",
            "--title",
            "Rehearsal",
            "--witness",
            "Rehearsal Witness",
        ]
    ]
    if args.tui:
        # Holders with keys and root v1 staged: the people sign it in the app.
        steps = [*start, *rehearsal.holder_steps(plan), rehearsal.ceremony_steps(plan)[0]]
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            code = rehearsal.run_steps(steps, run)
        if code:
            print(log.getvalue())
            return code
        return _open_app(args, plan.workspace)
    steps = [
        *start,
        *rehearsal.holder_steps(plan),
        *rehearsal.ceremony_steps(plan),
        ["audit", "close"],
    ]
    code = rehearsal.run_steps(steps, run)
    if code == 0:
        print(f"\nRehearsal complete. Workspace: {plan.workspace}")
        print(f"Tokens (SoftHSM): {plan.tokens_dir}; public keys: {plan.keys_dir}")
        print("Read the records with: ceremony --workspace", plan.workspace, "audit show")
    return code


def _open_app(args: argparse.Namespace, workspace: Path, runbook: object = None) -> int:
    """The app on the rehearsal workspace; its PINs are typed by the people practising."""
    from ceremony import rehearsal
    from ceremony.session import Ceremony
    from tui.app import CeremonyApp

    hint = (
        f"Rehearsal on SoftHSM tokens: every PIN is {rehearsal.REHEARSAL_PIN}, "
        f"every SO PIN {rehearsal.REHEARSAL_SO_PIN}. Nothing touches real tokens."
    )
    ceremony = Ceremony(
        workspace,
        operator=args.operator or "Rehearsal Operator",
        allow_network=True,
        module=args.module,
    )
    with ceremony:
        code = CeremonyApp(ceremony, hint=hint, runbook=runbook).run()
    conf = os.environ.get("SOFTHSM2_CONF", "")
    print(f"Rehearsal workspace: {workspace}")
    print(
        f"Open it again, with its tokens: SOFTHSM2_CONF={shlex.quote(conf)} "
        f"{_this_command()} --workspace {shlex.quote(str(workspace))} --allow-network"
    )
    return int(code or 0)


def _this_command() -> str:
    """How this very program was started, so the line printed runs as it is."""
    script = Path(sys.argv[0])
    if script.name == "ceremony" and script.is_file():
        return shlex.quote(str(script.resolve()))
    return f"{shlex.quote(sys.executable)} -m ceremony"
