"""`ceremony export --rstuf DIR` and `ceremony import --rstuf FILE`.

Registered by ``commands/transfer.py`` beside the other export and import
forms; the payloads and the checks are ``ceremony.rstuf``'s.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ceremony.commands._common import ceremony_of
from ceremony.errors import BadInput

if TYPE_CHECKING:
    from ceremony.workspace import Workspace

DEFAULT_TIMEOUT_HELP = 300
"""The default of --rstuf-timeout as the help shows it: ``ceremony.rstuf.DEFAULT_TIMEOUT``,
which a test holds equal (that module loads python-tuf, which ``--help`` need not)."""


def add_export_options(export: argparse.ArgumentParser) -> None:
    group = export.add_argument_group("RSTUF options (with --rstuf)")
    group.add_argument(
        "--rstuf-bins",
        type=int,
        metavar="N",
        help="hash bins RSTUF signs online for the artifacts (a power of two; default none)",
    )
    group.add_argument(
        "--rstuf-bins-expires",
        type=int,
        metavar="DAYS",
        default=1,
        help="expiry of the bins in days (default 1)",
    )
    group.add_argument(
        "--rstuf-timeout",
        type=int,
        metavar="S",
        help=f"seconds RSTUF waits for the bootstrap task (default {DEFAULT_TIMEOUT_HELP})",
    )


def _timeout(args: argparse.Namespace) -> int:
    from ceremony import rstuf

    return rstuf.DEFAULT_TIMEOUT if args.rstuf_timeout is None else int(args.rstuf_timeout)


def _files(ws: Workspace, args: argparse.Namespace) -> dict[str, bytes]:
    from ceremony import rstuf

    if args.partial or args.keys or args.roles:
        raise BadInput(
            "--rstuf writes RSTUF's payloads from the root; it takes no ROLE, --partial or --keys",
            "leave those out",
        )
    bins = rstuf.Bins(args.rstuf_bins, args.rstuf_bins_expires) if args.rstuf_bins else None
    return rstuf.export_files(ws, bins, _timeout(args))


def cmd_export(args: argparse.Namespace) -> int:
    from ceremony import rstuf
    from ceremony.transfer.bundle import SUMS_NAME, check_target

    _files(ceremony_of(args).workspace, args)  # refuse before the record opens
    check_target(args.rstuf)
    ws = ceremony_of(args).writable_workspace()
    bins = rstuf.Bins(args.rstuf_bins, args.rstuf_bins_expires) if args.rstuf_bins else None
    target, files = rstuf.export_dir(ws, Path(args.rstuf), bins, _timeout(args))
    print(f"Wrote {len(files)} RSTUF payload(s) to {target}:")
    for name, data in sorted(files.items()):
        print(f"  {name}  sha256 {hashlib.sha256(data).hexdigest()[:16]}...")
    print(f"Check the copy with: cd {target} && sha256sum -c {SUMS_NAME}")
    print("On the online side, send them with RSTUF's CLI (see docs/online-server.md):")
    for name in files:
        kind = name.split("-", 1)[0]
        print(f"  rstuf admin --api-server URL send {kind} {name}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ceremony import audit, rstuf

    if args.qr or len(args.paths) != 1:
        raise BadInput(
            "import --rstuf takes one file: RSTUF's metadata to sign",
            "save GET /api/v1/metadata/sign/ as a file and give its path",
        )
    path = Path(args.paths[0])
    ceremony = ceremony_of(args)
    pending = rstuf.read_metadata_to_sign(ceremony.workspace, path)  # checks first
    plan = rstuf.plan_pending(ceremony.workspace, pending)
    for line in plan.summary():
        print(line)
    staged = ceremony.stage(plan)
    ws = ceremony.workspace
    ws.record(
        audit.IMPORT,
        None,
        purpose="rstuf-metadata-to-sign",
        source=str(path),
        role="root",
        version=staged.version,
        payload_sha256=staged.payload_sha256,
        signatures_kept=pending.signatures_kept,
    )
    print(f"RSTUF's pending root v{staged.version} is staged here for review.")
    print(f"  payload SHA-256: {staged.payload_sha256}")
    print(f"  signatures it already carries, all verified: {len(pending.signatures_kept)}")
    print("Next: ceremony review root")
    return 0
