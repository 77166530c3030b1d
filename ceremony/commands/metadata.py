"""`ceremony root|targets|status|sign|merge|publish`: changing the repository.

Each command builds its plan through the ceremony (refused whole before
anything is written), prints it, and carries it out; the signing round's
steps are answered with prompts. Nothing here decides.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.commands._common import (
    add_pin_options,
    ask,
    ceremony_of,
    interactive,
    pin_source_for,
    print_json,
)
from ceremony.errors import BadInput, CheckFailed, PinLocked
from ceremony.text import visible

if TYPE_CHECKING:
    from securesystemslib.signer import Key

    from ceremony import plans, rounds, signing


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_root(sub, common)
    _register_targets(sub, common)
    _register_signing(sub, common)


# --------------------------------------------------------------------------
# Argument helpers


def _pair(text: str, what: str) -> tuple[str, str]:
    role, sep, value = text.partition("=")
    if not sep or not role or not value:
        raise BadInput(
            f"{visible(text)!r} is not of the form ROLE={what}", f"for example root={what}"
        )
    return role, value


def _int_pairs(items: list[str] | None, what: str) -> dict[str, int]:
    result = {}
    for item in items or []:
        role, value = _pair(item, what)
        if not value.isdigit() or len(value) > 6:
            raise BadInput(
                f"{visible(item)!r}: {what} must be a whole number",
                "for example root=2 (a number of at most 6 digits)",
            )
        result[role] = int(value)
    return result


def _key_pairs(items: list[str] | None) -> list[tuple[str, Key]]:
    from ceremony.keys import load_key_file

    return [
        (role, load_key_file(Path(path))) for role, path in (_pair(i, "FILE") for i in items or [])
    ]


def _stage(args: argparse.Namespace, plan: plans.StagePlan) -> int:
    """Show the plan, carry it out, say what comes next."""
    for line in plan.summary():
        print(line)
    staged = ceremony_of(args).stage(plan)
    print()
    print(f"Staged {visible(staged.role)} version {staged.version}.")
    print(f"  payload SHA-256: {staged.payload_sha256}")
    if staged.dropped_signatures:
        print(
            f"  {staged.dropped_signatures} signature(s) on the previous proposal were dropped: "
            "the payload changed, so they must be made again."
        )
    print(f"Next: ceremony review {visible(staged.role)}")
    return 0


# --------------------------------------------------------------------------
# root


def _register_root(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    root = sub.add_parser(
        "root",
        parents=[common],
        help="create or change the root of trust",
        description="The root of trust names the keys of every top-level role. Create "
        "version 1 once; every later change is a rotation signed by the old and new keys.",
    )
    actions = root.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        parents=[common],
        help="create the workspace and stage root version 1",
        description="Create the workspace (if needed) and stage root version 1 with keys "
        "for root, targets, snapshot and timestamp. Key files are TUF key JSON (from "
        "'ceremony key export') or PEM public keys.",
    )
    init.add_argument(
        "--key",
        action="append",
        metavar="ROLE=FILE",
        required=True,
        help="a key for a role; repeat for every key",
    )
    init.add_argument(
        "--threshold",
        action="append",
        metavar="ROLE=N",
        help="signatures required for a role (default 1)",
    )
    init.add_argument(
        "--expires",
        action="append",
        metavar="ROLE=DAYS",
        help="default expiry in days (root 365, targets 90, snapshot 7, timestamp 1)",
    )
    init.add_argument("--repository", help="the repository's name (default: the folder name)")
    init.add_argument(
        "--profile",
        choices=("plain", "rstuf", "tuf-on-ci"),
        help="which fields go on keys for the online service (default: plain)",
    )
    init.add_argument(
        "--allow-single-root-key",
        action="store_true",
        help="accept a root threshold of 1 (not for production)",
    )
    init.set_defaults(func=cmd_root_init)

    rotate = actions.add_parser(
        "rotate",
        parents=[common],
        help="stage the next root version (replace holders, thresholds, online keys)",
        description="Stage root version N+1 from the newest published root: add or remove "
        "keys, change thresholds, replace online keys, or just renew the expiry. The new "
        "version must be signed by enough OLD root keys and enough NEW root keys.",
    )
    rotate.add_argument("--add-key", action="append", metavar="ROLE=FILE")
    rotate.add_argument(
        "--remove-key",
        action="append",
        metavar="ROLE=KEYID",
        help="KEYID may be a unique prefix or the holder's name",
    )
    rotate.add_argument("--threshold", action="append", metavar="ROLE=N")
    rotate.add_argument(
        "--expires",
        metavar="DAYS",
        type=int,
        help="root expiry in days from now (default from ceremony.toml)",
    )
    rotate.add_argument("--allow-single-root-key", action="store_true")
    rotate.set_defaults(func=cmd_root_rotate)


def cmd_root_init(args: argparse.Namespace) -> int:
    from ceremony import roles

    expiry = _int_pairs(args.expires, "DAYS")
    plan = roles.RootPlan(
        add=_key_pairs(args.key),
        thresholds=_int_pairs(args.threshold, "N"),
        allow_single_root_key=args.allow_single_root_key,
    )
    ceremony = ceremony_of(args)
    return _stage(args, ceremony.plan_root_init(plan, expiry, args.repository, args.profile))


def cmd_root_rotate(args: argparse.Namespace) -> int:
    from ceremony import roles

    ceremony = ceremony_of(args)
    ws = ceremony.workspace
    plan = roles.RootPlan(
        add=_key_pairs(args.add_key),
        remove=[_pair(item, "KEYID") for item in args.remove_key or []],
        thresholds=_int_pairs(args.threshold, "N"),
        root_expiry_days=args.expires or ws.config.expiry_days["root"],
        allow_single_root_key=args.allow_single_root_key,
    )
    return _stage(args, ceremony.plan_rotation(plan))


# --------------------------------------------------------------------------
# targets


def _register_targets(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    targets = sub.add_parser(
        "targets",
        parents=[common],
        help="delegate, revoke and renew targets roles",
        description="Targets metadata says which keys may sign which files. Delegate part "
        "of the repository to other keys, revoke a delegation, or renew an expiry.",
    )
    actions = targets.add_subparsers(dest="action", metavar="ACTION", required=True)
    delegate = actions.add_parser(
        "delegate",
        parents=[common],
        help="add or change a delegated role",
        description="Stage a new version of the delegating role (targets unless --from) "
        "that trusts NAME's keys for the given paths, or splits all files over hash bins.",
    )
    delegate.add_argument("name")
    delegate.add_argument("--key", action="append", metavar="FILE", required=True)
    delegate.add_argument("--threshold", type=int, default=1)
    how = delegate.add_mutually_exclusive_group(required=True)
    how.add_argument("--paths", nargs="+", metavar="PATTERN")
    how.add_argument("--hash-bins", type=int, metavar="COUNT", help="a power of two")
    delegate.add_argument("--bin-prefix", metavar="P", help="bin name prefix (default NAME)")
    delegate.add_argument("--terminating", action="store_true")
    delegate.add_argument(
        "--expires",
        type=int,
        metavar="DAYS",
        help="default expiry of the delegated role's own metadata",
    )
    delegate.add_argument("--from", dest="delegator", default="targets", metavar="ROLE")
    delegate.set_defaults(func=cmd_targets_delegate)

    revoke = actions.add_parser(
        "revoke",
        parents=[common],
        help="remove a delegation",
        description="Stage a new version of the delegating role without NAME.",
    )
    revoke.add_argument("name")
    revoke.add_argument("--from", dest="delegator", default="targets", metavar="ROLE")
    revoke.set_defaults(func=cmd_targets_revoke)

    bump = actions.add_parser(
        "bump",
        parents=[common],
        help="renew a role's expiry",
        description="Stage the next version of ROLE (default targets) with a new expiry.",
    )
    bump.add_argument("role", nargs="?", default="targets")
    bump.add_argument("--expires", type=int, metavar="DAYS")
    bump.set_defaults(func=cmd_targets_bump)


def cmd_targets_delegate(args: argparse.Namespace) -> int:
    from ceremony import roles
    from ceremony.keys import load_key_file

    plan = roles.DelegationPlan(
        name=args.name,
        keys=[load_key_file(Path(p)) for p in args.key],
        threshold=args.threshold,
        paths=args.paths,
        hash_bins=args.hash_bins,
        bin_prefix=args.bin_prefix,
        terminating=args.terminating,
    )
    ceremony = ceremony_of(args)
    return _stage(args, ceremony.plan_delegation(plan, args.delegator, args.expires))


def cmd_targets_revoke(args: argparse.Namespace) -> int:
    return _stage(args, ceremony_of(args).plan_revoke(args.name, args.delegator))


def cmd_targets_bump(args: argparse.Namespace) -> int:
    return _stage(args, ceremony_of(args).plan_bump(args.role, args.expires))


# --------------------------------------------------------------------------
# status, sign, merge, publish


def _register_signing(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    status = sub.add_parser(
        "status",
        parents=[common],
        help="who still has to sign what",
        description="For each staged role: version, expiry, signatures so far, and by "
        "holder name and token, who still has to sign. Exit 0 when all are complete.",
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    sign = sub.add_parser(
        "sign",
        parents=[common],
        help="sign a staged role with your token",
        description="Sign the staged ROLE with every key on your token that it still "
        "needs. Run 'ceremony review ROLE' first: only the reviewed payload is signed. "
        "Without --token you are asked for each needed token in turn, by label and serial.",
    )
    sign.add_argument("role")
    sign.add_argument("--token", metavar="LABEL|SERIAL")
    sign.add_argument("--key", metavar="LABEL", help="only this key on the token")
    sign.add_argument(
        "--allow-exportable",
        action="store_true",
        help="accept a key that may exist outside the token (recorded)",
    )
    add_pin_options(sign)
    sign.set_defaults(func=cmd_sign)

    merge = sub.add_parser(
        "merge",
        parents=[common],
        help="add signatures made at another site",
        description="Add the signatures in FILE, a copy of the same staged role signed "
        "elsewhere. The signed content must be byte for byte the same; every signature "
        "is checked before it is kept.",
    )
    merge.add_argument("file")
    merge.add_argument("--role", help="the role (default: from the file name)")
    merge.set_defaults(func=cmd_merge)

    publish = sub.add_parser(
        "publish",
        parents=[common],
        help="publish a fully signed role",
        description="Check the staged ROLE completely and write it into metadata/. "
        "Published versions are never overwritten.",
    )
    publish.add_argument("role")
    publish.set_defaults(func=cmd_publish)


def cmd_status(args: argparse.Namespace) -> int:
    states = ceremony_of(args).status()
    if args.json:
        print_json([_status_json(s) for s in states])
    elif not states:
        print("Nothing is staged.")
    for state in states if not args.json else []:
        _print_status(state)
    return 0 if all(s.complete for s in states) else 1


def _print_status(state: signing.RoleStatus) -> None:
    from ceremony.signing import Holder

    verdict = "complete, ready to publish" if state.complete else "needs signatures"
    print(f"{visible(state.role)} v{state.version}: {verdict}")
    print(f"  expires {state.expires:%Y-%m-%d %H:%M} UTC; {state.signatures} signature(s)")
    print(
        f"  payload {state.payload_sha256[:16]}...; reviewed: {'yes' if state.reviewed else 'no'}"
    )
    for req in state.requirements:
        mark = "ok" if req.met else f"{req.missing} more needed"
        print(f"  {req.title}: {len(req.signed)} of {req.threshold} ({mark})")
        for key in req.signed.values():
            print(f"    signed:  {Holder.of(key).describe()}")
        for holder in req.still_needed():
            print(f"    waiting: {holder.describe()}")


def _status_json(state: signing.RoleStatus) -> dict[str, Any]:
    from ceremony.keys import owner_of

    return {
        "role": state.role,
        "version": state.version,
        "expires": state.expires.isoformat(),
        "signatures": state.signatures,
        "payload_sha256": state.payload_sha256,
        "reviewed": state.reviewed,
        "complete": state.complete,
        "requirements": [
            {
                "title": r.title,
                "threshold": r.threshold,
                "signed": [owner_of(k) for k in r.signed.values()],
                "waiting": [h.describe() for h in r.still_needed()],
            }
            for r in state.requirements
        ],
    }


def cmd_sign(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    round_ = ceremony.signing_round(
        args.role, token=args.token, key_label=args.key, allow_exportable=args.allow_exportable
    )
    print(f"Signing {visible(args.role)} v{round_.version}, payload SHA-256 {round_.digest}")
    _answer_round(args, round_)
    outcome = round_.outcome
    _print_outcome(outcome)
    if outcome.complete:
        print(
            f"{visible(args.role)} has every signature it needs. "
            f"Next: ceremony publish {visible(args.role)}"
        )
        return 0
    for holder in round_.holders():
        print(f"  still waiting for: {holder.describe()}")
    return 0 if outcome.signed else 1


def _answer_round(args: argparse.Namespace, round_: rounds.SigningRound) -> None:
    """Answer the round's steps at the terminal until it is done."""
    from ceremony import rounds

    pins = pin_source_for(args)
    step = round_.poll()
    while not isinstance(step, rounds.Done):
        if isinstance(step, rounds.PinRefused):
            raise _pin_error(step)
        if isinstance(step, rounds.PinNeeded):
            _say_pin(step)
            step = round_.sign(pins, final_try=_final_try_ok(args, step))
        elif isinstance(step, rounds.Signed):
            for holder in step.keys:
                print(f"  signed and verified: {holder.describe()}")
            if round_.only_token is None:
                print("  Remove this token now.")
            step = round_.poll()
        elif isinstance(step, rounds.TokenLost | rounds.TokenLocked):
            step = _token_trouble(round_, step)
        else:
            step = _wait(round_, step)


def _pin_error(step: rounds.PinRefused) -> CheckFailed:
    assert step.error is not None
    return step.error  # type: ignore[return-value]


def _say_pin(step: rounds.PinNeeded) -> None:
    assert step.token is not None
    owners = ", ".join(sorted({visible(h.owner) for h in step.keys}))
    print(f"Token {visible(step.token.name())} holds the key of: {owners}")
    state = ", ".join(step.token.pin_state)
    if state != "ok":
        print(f"  the token reports: {state}")


def _final_try_ok(args: argparse.Namespace, step: rounds.PinNeeded) -> bool:
    """A final PIN try needs a confirmation: the option, or a typed yes."""
    if not step.final_try or args.final_try:
        return bool(args.final_try)
    if not interactive():
        return False
    answer = ask("This token has ONE PIN try left; a wrong PIN locks it. Type yes to try: ")
    return answer.strip().lower() == "yes"


def _token_trouble(round_: rounds.SigningRound, step: rounds.Step) -> rounds.Step:
    from ceremony import rounds

    if isinstance(step, rounds.TokenLocked):
        assert step.token is not None
        locked = PinLocked(
            f"the PIN of token {visible(step.token.name())} is locked; it cannot sign",
            "the security officer must unblock it (SO PIN); do not try the PIN again",
        )
        if round_.only_token is not None or not interactive():
            raise locked
        print(f"  {locked.problem}")
        return round_.skip()
    assert isinstance(step, rounds.TokenLost) and step.error is not None
    print(f"  {visible(step.error.problem)}")
    if round_.only_token is not None or not interactive():
        raise step.error
    ask("Insert the token again and press Enter: ")
    return round_.poll()


def _wait(round_: rounds.SigningRound, step: rounds.Step) -> rounds.Step:
    """Ask for the next holder's token, or skip them."""
    from ceremony import rounds

    holder = step.holder
    if holder is None:
        return round_.skip()
    if isinstance(step, rounds.WrongToken) and step.token is not None:
        whose = f" (it holds the key of {', '.join(visible(h) for h in step.holds)})"
        print(
            f"  The token present, {visible(step.token.name())}, does not hold the key of "
            f"{visible(holder.owner)}{whose if step.holds else ''}."
        )
    if not interactive():
        print(f"Skipped: {holder.describe()}")
        return round_.skip()
    answer = ask(
        f"Insert the token of {visible(holder.owner)} ({holder.token_name()}). "
        "Press Enter when inserted, or type s to skip: "
    )
    if answer.strip().lower() == "s":
        print(f"Skipped: {holder.describe()}")
        return round_.skip()
    return round_.poll()


def _print_outcome(outcome: rounds.RoundOutcome) -> None:
    for holder in outcome.already:
        print(f"  already signed: {holder.describe()}")
    for holder in outcome.not_needed:
        print(f"  not needed (threshold met): {holder.describe()}")
    for label in outcome.not_authorised:
        role = visible(outcome.role)
        print(f"  key {visible(label)!r} on this token is not authorised for {role}")


def cmd_merge(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    plan = ceremony.plan_merge(Path(args.file), args.role)
    outcome = ceremony.merge(plan)
    for holder in outcome.added:
        print(f"  added: {holder.describe()}")
    for holder in outcome.already:
        print(f"  already present: {holder.describe()}")
    for keyid in outcome.unknown:
        print(f"  ignored: key {keyid[:8]} is not authorised for {visible(outcome.role)}")
    if outcome.invalid:
        raise CheckFailed(
            f"{len(outcome.invalid)} signature(s) in {visible(args.file)} do not verify "
            f"(keys {', '.join(k[:8] for k in outcome.invalid)}); they were not kept",
            "ask that site to sign again; the valid ones above were merged",
        )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    plan = ceremony.plan_publish(args.role)
    written = ceremony.publish(plan)
    for path in written:
        print(f"Published {path.relative_to(ceremony.workspace.root)}")
    return 0
