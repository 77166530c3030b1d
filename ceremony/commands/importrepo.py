"""`ceremony import-repo DIR`: start a workspace from an existing repository."""

from __future__ import annotations

import argparse
from pathlib import Path

from ceremony.commands._common import ceremony_of
from ceremony.config import PROFILES


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "import-repo",
        parents=[common],
        help="start this workspace from an existing TUF repository's metadata",
        description="Take a repository's published metadata (every root version from 1, "
        "targets and the delegated roles below it; made with python-tuf, tuf-on-ci or "
        "another TUF tool) as this workspace's starting point. Every root is verified by "
        "the one before it; gaps, two different files for one version, or a role not "
        "signed by its delegator's threshold refuse the import (exit 1) and nothing is "
        "written. The workspace must not have a root yet.",
    )
    parser.add_argument("directory", metavar="DIR", help="the repository's metadata directory")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help="the repository profile (default: read from the keys' fields)",
    )
    parser.add_argument("--repository", help="the repository's name (default: the folder name)")
    parser.set_defaults(func=cmd_import_repo)


def cmd_import_repo(args: argparse.Namespace) -> int:
    from ceremony import importrepo

    plan = importrepo.plan_import(Path(args.directory), args.profile)
    importrepo.check_destination(Path(args.workspace))
    transcript = ceremony_of(args).begin()
    ws = importrepo.apply_import(Path(args.workspace), plan, transcript.record, args.repository)
    versions = [item.metadata.signed.version for item in plan.roots]
    print(f"Imported {plan.source} into {ws.root} (profile {plan.profile}):")
    print(f"  root versions {versions[0]} to {versions[-1]}, each verified by the one before")
    for role, item in plan.targets:
        print(f"  {role} v{item.metadata.signed.version}, verified by its delegator")
    print(f"  {len(plan.keys)} public key(s) copied to keys/")
    for note in plan.notes:
        print(f"  note: {note}")
    print("Next: ceremony verify")
    return 0
