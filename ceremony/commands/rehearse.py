"""`ceremony rehearse`: a whole ceremony on SoftHSM tokens, for practice."""

from __future__ import annotations

import argparse

from ceremony import rehearsal, tokens


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "rehearse",
        parents=[common],
        help="practise a whole ceremony on software tokens",
        description="Run a complete ceremony on SoftHSM software tokens kept beside the "
        "workspace: four key holders create keys on their tokens, root version 1 is "
        "signed by two of three root holders, targets is signed, everything is verified "
        "and the ceremony record is closed. Nothing touches real tokens. Rehearsal PINs "
        "are fixed and not secret; the network override is used and recorded.",
    )
    parser.set_defaults(func=cmd_rehearse)


def cmd_rehearse(args: argparse.Namespace) -> int:
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
        print("Read the record with: ceremony --workspace", plan.workspace, "audit show")
    return code
