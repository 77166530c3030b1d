"""`ceremony rehearse`: a whole ceremony on SoftHSM tokens, for practice."""

from __future__ import annotations

import argparse

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
        "--tui", action="store_true", help="practise the runbook in the app (with --runbook)"
    )
    parser.set_defaults(func=cmd_rehearse)


def cmd_rehearse(args: argparse.Namespace) -> int:
    if args.runbook:
        return _rehearse_runbook(args)
    if args.tui or args.runbooks:
        raise BadInput("--tui and --runbooks go with --runbook NAME", "add --runbook NAME")
    return _rehearse_commands(args)


def _rehearse_runbook(args: argparse.Namespace) -> int:
    from ceremony import rehearsal
    from ceremony.runbooks.library import Library
    from ceremony.runbooks.rehearse import rehearse

    plan = rehearsal.Rehearsal.beside(args.workspace)
    library = Library.load(plan.workspace, args.runbooks)
    library.get(args.runbook)  # an unknown name is refused before anything is made
    if args.tui:
        # The app's runbook mode plugs in here: rehearse the runbooks before this one
        # (ceremony.runbooks.rehearse.rehearse over library.chain(NAME)[:-1]), then open
        # the app on Run.open(...) of NAME with RehearsalSecrets for its PIN prompts.
        raise BadInput(
            "practising a runbook in the app arrives with the app's runbook mode",
            f"rehearse it headless for now: ceremony rehearse --runbook {args.runbook}",
        )
    used = rehearse(
        library,
        args.runbook,
        plan,
        holders=args.holders,
        threshold=args.threshold,
        module=args.module,
        operator=args.operator or "Rehearsal Operator",
    )
    print(f"\nRunbook {args.runbook} rehearsed. Workspace(s): {', '.join(map(str, used))}")
    print(f"Tokens (SoftHSM): {plan.tokens_dir}")
    print("Read the records with: ceremony --workspace", plan.workspace, "audit show")
    return 0


def _rehearse_commands(args: argparse.Namespace) -> int:
    from ceremony import rehearsal, tokens
    from ceremony.cli import main

    plan = rehearsal.Rehearsal.beside(args.workspace)
    rehearsal.check_fresh(plan)
    rehearsal.use_private_softhsm(plan.tokens_dir)
    module = args.module or str(tokens.resolve_module_path(None))
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
