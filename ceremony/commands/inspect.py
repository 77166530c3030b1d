"""`ceremony review ROLE` and `ceremony verify`: look before signing, check after.

Review is what a key holder reads before typing a PIN; verify is what
anyone can run at any time to see that the workspace would satisfy a TUF
client. Neither changes metadata; review notes which payload was shown, in
the staged state and in the ceremony record (so, like every command that
writes, it runs the air-gap preflight first). Verify writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ceremony.commands._common import ceremony_of, print_json, print_table
from ceremony.text import visible

if TYPE_CHECKING:
    from ceremony.verify import VerifyReport

_MARKS = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_review(sub, common)
    _register_verify(sub, common)


def _register_review(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "review",
        parents=[common],
        help="show in words what a staged role changes, and the hash you will sign",
        description="Before anyone signs, read what is about to be signed. This shows, "
        "against the version published now: the new version number and expiry, keys "
        "added or removed (by their holders' names), threshold changes, delegations "
        "and target files that change. At the end it shows the SHA-256 of the exact "
        "bytes your token will sign, as hex and as words. Read the words aloud: the "
        "witnesses compare them with their own screen, and the sign step shows them "
        "again. Signing is only allowed for exactly what was reviewed.",
    )
    parser.add_argument(
        "role", metavar="ROLE", help="the staged role to review: root, targets or a delegated role"
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="print the exact canonical JSON that will be signed (the hash goes to stderr)",
    )
    parser.set_defaults(func=cmd_review)


def _register_verify(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "verify",
        parents=[common],
        help="check the published metadata the way a TUF client would",
        description="Walk every published root from version 1 (or from a root you "
        "already trust) and check that each new version is signed by enough keys of "
        "the version before it and of its own; then check top-level targets and every "
        "delegated role kept in this workspace. Expired metadata fails; metadata that "
        "expires soon is a warning. Exit status: 0 all good, 1 something failed "
        "(each failure says what and why), 2 a file could not be read.",
    )
    parser.add_argument(
        "--trusted-root",
        metavar="FILE",
        type=Path,
        help="start from this root.json instead of version 1 (e.g. the one your clients ship)",
    )
    parser.add_argument(
        "--warn-days",
        metavar="N",
        type=int,
        default=30,
        help="warn about metadata that expires within N days (default: 30)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=cmd_verify)


def cmd_review(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    result = ceremony.review(args.role)  # a wrong name or bad file is refused before the record
    ceremony.confirm_review(result)
    if args.raw:
        # Exact bytes into a pipe; on a screen, control characters made visible.
        sys.stdout.write((visible(result.raw) if sys.stdout.isatty() else result.raw) + "\n")
        for line in result.hash_lines():
            print(line, file=sys.stderr)
        return 0
    for line in result.lines():
        print(line)
    print()
    role = visible(args.role)
    print(f"Compare these words with the witnesses, then sign with: ceremony sign {role}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ceremony.verify import verify_workspace

    workspace = ceremony_of(args).workspace
    report = verify_workspace(workspace, args.trusted_root, args.warn_days)
    if args.json:
        print_json(report.to_dict())
        return report.exit_code
    _print_report(report)
    return report.exit_code


def _print_report(report: VerifyReport) -> None:
    rows = [
        (item.role, "" if item.version is None else item.version, _MARKS[item.status], item.reason)
        for item in report.items
    ]
    print_table(["role", "version", "result", "why"], rows)
    print()
    failures, warnings = len(report.failures), len(report.warnings)
    if report.ok:
        note = f" ({warnings} warnings)" if warnings else ""
        print(f"Verified: everything checked is correctly signed and valid{note}.")
    else:
        print(f"FAILED: {failures} checks failed, {warnings} warnings. See 'why' above.")
