"""`ceremony root|targets|status|sign|merge|publish`: changing the repository."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ceremony import roles, signing, staging, tokens
from ceremony.commands._common import (
    add_pin_options,
    begin,
    load_lib,
    module_path,
    open_workspace,
    print_json,
)
from ceremony.config import PROFILES
from ceremony.errors import BadInput, CheckFailed
from ceremony.keys import load_key_file, owner_of
from ceremony.pins import pin_source
from ceremony.workspace import StagedPayload, Workspace


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_root(sub, common)
    _register_targets(sub, common)
    _register_signing(sub, common)


# --------------------------------------------------------------------------
# Argument helpers


def _pair(text: str, what: str) -> tuple[str, str]:
    role, sep, value = text.partition("=")
    if not sep or not role or not value:
        raise BadInput(f"{text!r} is not of the form ROLE={what}", f"for example root={what}")
    return role, value


def _int_pairs(items: list[str] | None, what: str) -> dict[str, int]:
    result = {}
    for item in items or []:
        role, value = _pair(item, what)
        if not value.isdigit():
            raise BadInput(f"{item!r}: {what} must be a whole number")
        result[role] = int(value)
    return result


def _key_pairs(items: list[str] | None) -> list[tuple[str, object]]:
    return [
        (role, load_key_file(Path(path))) for role, path in (_pair(i, "FILE") for i in items or [])
    ]


def _print_staged(staged: staging.Staged) -> None:
    print(f"Staged {staged.role} version {staged.version}.")
    print(f"  payload SHA-256: {staged.payload_sha256}")
    if staged.dropped_signatures:
        print(
            f"  {staged.dropped_signatures} signature(s) on the previous proposal were dropped: "
            "the payload changed, so they must be made again."
        )
    print(f"Next: ceremony review {staged.role}")


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
        choices=PROFILES,
        help="the online side: which fields go on keys (default plain; see docs/online-server.md)",
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
    expiry = _int_pairs(args.expires, "DAYS")
    plan = roles.RootPlan(
        add=_key_pairs(args.key),
        thresholds=_int_pairs(args.threshold, "N"),
        allow_single_root_key=args.allow_single_root_key,
    )
    _ws, staged = staging.init_root(
        Path(args.workspace),
        plan,
        expiry,
        args.repository,
        before_write=lambda: begin(args),
        profile=args.profile,
    )
    _print_staged(staged)
    return 0


def cmd_root_rotate(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    plan = roles.RootPlan(
        add=_key_pairs(args.add_key),
        remove=[_pair(item, "KEYID") for item in args.remove_key or []],
        thresholds=_int_pairs(args.threshold, "N"),
        root_expiry_days=args.expires or ws.config.expiry_days["root"],
        allow_single_root_key=args.allow_single_root_key,
    )
    _print_staged(staging.rotate_root(ws, plan))
    return 0


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
    ws = open_workspace(args)
    plan = roles.DelegationPlan(
        name=args.name,
        keys=[load_key_file(Path(p)) for p in args.key],
        threshold=args.threshold,
        paths=args.paths,
        hash_bins=args.hash_bins,
        bin_prefix=args.bin_prefix,
        terminating=args.terminating,
    )
    _print_staged(staging.delegate(ws, plan, args.delegator, args.expires))
    return 0


def cmd_targets_revoke(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    _print_staged(staging.revoke(ws, args.name, args.delegator))
    return 0


def cmd_targets_bump(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    _print_staged(staging.bump(ws, args.role, args.expires))
    return 0


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
    ws = Workspace.open(Path(args.workspace))
    states = signing.status(ws)
    if args.json:
        print_json([_status_json(s) for s in states])
    elif not states:
        print("Nothing is staged.")
    for state in states if not args.json else []:
        _print_status(state)
    return 0 if all(s.complete for s in states) else 1


def _print_status(state: signing.RoleStatus) -> None:
    verdict = "complete, ready to publish" if state.complete else "needs signatures"
    print(f"{state.role} v{state.version}: {verdict}")
    print(f"  expires {state.expires:%Y-%m-%d %H:%M} UTC; {state.signatures} signature(s)")
    print(
        f"  payload {state.payload_sha256[:16]}...; reviewed: {'yes' if state.reviewed else 'no'}"
    )
    for req in state.requirements:
        mark = "ok" if req.met else f"{req.missing} more needed"
        print(f"  {req.title}: {len(req.signed)} of {req.threshold} ({mark})")
        for key in req.signed.values():
            print(f"    signed:  {signing.Holder.of(key).describe()}")
        for holder in req.still_needed():
            print(f"    waiting: {holder.describe()}")


def _status_json(state: signing.RoleStatus) -> dict:
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


def _sign_options(args: argparse.Namespace) -> signing.SignOptions:
    return signing.SignOptions(
        module_path=module_path(args),
        pin_source=pin_source(args.pin_file),
        key_label=args.key,
        final_try=args.final_try,
        allow_exportable=args.allow_exportable,
    )


def cmd_sign(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    staged = ws.staged_payload(args.role)
    digest = signing.require_reviewed(ws, args.role, staged.digest)
    print(f"Signing {args.role} v{staged.version()}, payload SHA-256 {digest}")
    options = _sign_options(args)
    lib = load_lib(args)
    if args.token:
        outcome = signing.sign_with_token(ws, staged, tokens.find_token(lib, args.token), options)
        _print_outcome(outcome)
    else:
        outcome = _guided_round(ws, staged, lib, options)
    if outcome is not None and outcome.complete:
        print(f"{args.role} has every signature it needs. Next: ceremony publish {args.role}")
        return 0
    _print_waiting(ws, args.role)
    return 0 if outcome is not None and outcome.signed else 1


def _guided_round(ws: Workspace, staged: StagedPayload, lib, options: signing.SignOptions):
    """Ask for every needed token in turn, by label and serial."""
    outcome = None
    for holder in signing.tokens_needed(ws, staged.role, staged):
        token = _wait_for_token(lib, holder)
        if token is None:
            print(f"Skipped: {holder.describe()}")
            continue
        outcome = signing.sign_with_token(ws, staged, token, options)
        _print_outcome(outcome)
        if outcome.complete:
            break
    return outcome


def _wait_for_token(lib, holder: signing.Holder):
    interactive = sys.stdin is not None and sys.stdin.isatty()
    while True:
        token = signing.find_holder_token(lib, holder)
        if token is not None:
            return token
        if not interactive:
            return None
        answer = input(
            f"Insert the token of {holder.owner}: label {holder.token_label!r}, "
            f"serial {holder.token_serial}. Press Enter when inserted, or type s to skip: "
        )
        if answer.strip().lower() == "s":
            return None


def _print_outcome(outcome: signing.SignOutcome) -> None:
    for holder in outcome.signed:
        print(f"  signed and verified: {holder.describe()}")
    for holder in outcome.already:
        print(f"  already signed: {holder.describe()}")
    for holder in outcome.not_needed:
        print(f"  not needed (threshold met): {holder.describe()}")
    for label in outcome.not_authorised:
        print(f"  key {label!r} on this token is not authorised for {outcome.role}")


def _print_waiting(ws: Workspace, role: str) -> None:
    for holder in signing.tokens_needed(ws, role):
        print(f"  still waiting for: {holder.describe()}")


def cmd_merge(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    outcome = signing.merge(ws, Path(args.file), args.role)
    for holder in outcome.added:
        print(f"  added: {holder.describe()}")
    for holder in outcome.already:
        print(f"  already present: {holder.describe()}")
    for keyid in outcome.unknown:
        print(f"  ignored: key {keyid[:8]} is not authorised for {outcome.role}")
    if outcome.invalid:
        raise CheckFailed(
            f"{len(outcome.invalid)} signature(s) in {args.file} do not verify "
            f"(keys {', '.join(k[:8] for k in outcome.invalid)}); they were not kept",
            "ask that site to sign again; the valid ones above were merged",
        )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    written = signing.publish(ws, args.role)
    for path in written:
        print(f"Published {path.relative_to(ws.root)}")
    return 0
