"""Repository Service for TUF (RSTUF): the payloads its API takes and serves.

RSTUF 1.0 runs the online side (timestamp, snapshot, top-level targets and
hash bins, all signed with one online key) and takes the root of trust
from an offline ceremony as JSON payloads (``rstuf admin send bootstrap |
update | sign`` posts them):

- bootstrap, once: ``{"settings": {"roles": {...}}, "metadata": {"root":
  <root v1>}, "timeout": seconds}``;
- a new root version: ``{"metadata": {"root": <root N>}}``;
- one signature on the root RSTUF holds as pending: ``{"role": "root",
  "signature": {"keyid", "sig"}}``.

It serves the pending "metadata to sign" as ``{"data": {"metadata":
{"root": <pending root>, "trusted_root": <current root>}}}``; holders bring
that file here, review and sign it like any staged root, and carry the
signatures back as sign payloads.

RSTUF's API re-serialises a root and keeps, on keys, only
``x-rstuf-key-name`` and ``x-rstuf-online-key-uri`` and, on role entries,
nothing custom: a root whose keys carry other fields loses its signatures
there. Hence the ``rstuf`` repository profile (ceremony.profiles), checked
before anything is written for RSTUF.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, Root

from ceremony import plans, profiles, roles
from ceremony.errors import BadInput, CheckFailed, WorkspaceError
from ceremony.fsutil import read_bounded
from ceremony.metafile import canonical, loads_strict, payload_bytes
from ceremony.workspace import Workspace

DEFAULT_TIMEOUT = 300
PAYLOAD_LIMIT = 16 * 1024 * 1024
BOOTSTRAP_NAME = "bootstrap-payload.json"


@dataclass(frozen=True)
class Bins:
    """RSTUF's hash bins for top-level targets' artifacts (online-signed)."""

    count: int
    expiry_days: int

    def __post_init__(self) -> None:
        if self.count < 2 or self.count > 16384 or self.count & (self.count - 1):
            raise BadInput(
                f"{self.count} hash bins: RSTUF needs a power of two from 2 to 16384",
                "use for example --rstuf-bins 256",
            )


def _dumps(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def _root_dict(ws: Workspace, version: int) -> dict[str, Any]:
    data = ws.published_bytes("root", version)
    if data is None:
        raise WorkspaceError(
            f"root version {version} is not published in this workspace",
            "publish it first (ceremony publish root), then export again",
        )
    metadata = Metadata.from_bytes(data)
    profiles.check_root(metadata.signed, profiles.RSTUF)
    return metadata.to_dict()


def _require_profile(ws: Workspace) -> None:
    if ws.config.profile != profiles.RSTUF:
        raise BadInput(
            f"this workspace's repository profile is {ws.config.profile!r}: its keys carry "
            "fields RSTUF drops, so RSTUF would find the root's signatures broken",
            "RSTUF needs a root made with: ceremony root init --profile rstuf",
        )


def bootstrap_payload(
    ws: Workspace, bins: Bins | None = None, timeout: int = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """What ``rstuf admin send bootstrap`` posts: the settings and root v1."""
    _require_profile(ws)
    if timeout < 1:
        raise BadInput(f"timeout {timeout} s is not positive", "leave it out for 300 s")
    days = ws.config.expiry_days
    roles: dict[str, Any] = {
        role: {"expiration": days[role]} for role in ("root", "timestamp", "snapshot", "targets")
    }
    roles["bins"] = (
        {"expiration": bins.expiry_days, "number_of_delegated_bins": bins.count} if bins else None
    )
    roles["delegations"] = None
    return {
        "settings": {"roles": roles},
        "metadata": {"root": _root_dict(ws, 1)},
        "timeout": timeout,
    }


def update_payload(ws: Workspace, version: int) -> dict[str, Any]:
    """What ``rstuf admin send update`` posts: one published root version."""
    _require_profile(ws)
    return {"metadata": {"root": _root_dict(ws, version)}}


def sign_payloads(ws: Workspace) -> dict[str, dict[str, Any]]:
    """One ``rstuf admin send sign`` payload per signature on the staged root,
    keyed by a file name that carries the keyid."""
    _require_profile(ws)
    if "root" not in ws.staged_roles():
        return {}
    staged = ws.staged_payload("root")
    return {
        f"sign-payload-root-v{staged.version()}-{keyid[:16]}.json": {
            "role": "root",
            "signature": signature.to_dict(),
        }
        for keyid, signature in sorted(staged.signatures.items())
    }


def export_files(
    ws: Workspace, bins: Bins | None = None, timeout: int = DEFAULT_TIMEOUT
) -> dict[str, bytes]:
    """Every payload the workspace can give RSTUF now, by file name.

    The bootstrap payload (root v1), an update payload for each later root,
    and a sign payload for each signature on a staged root. Nothing is
    written here.
    """
    _require_profile(ws)
    versions = ws.root_versions()
    files: dict[str, bytes] = {}
    if versions:
        files[BOOTSTRAP_NAME] = _dumps(bootstrap_payload(ws, bins, timeout))
    for version in versions[1:]:
        files[f"update-payload-root-v{version}.json"] = _dumps(update_payload(ws, version))
    for name, payload in sign_payloads(ws).items():
        files[name] = _dumps(payload)
    if not files:
        raise WorkspaceError(
            "there is nothing for RSTUF yet: no root is published or staged",
            "publish root version 1 first (ceremony publish root)",
        )
    return files


# --------------------------------------------------------------------------
# RSTUF's "metadata to sign"


@dataclass
class Pending:
    """A root RSTUF holds as pending, checked and ready to stage."""

    metadata: Metadata[Root]
    base_version: int | None
    signatures_kept: list[str]


def parse_metadata_to_sign(data: bytes, source: str) -> tuple[dict[str, Any], dict | None]:
    """The pending root and trusted root dicts from RSTUF's response."""
    document = loads_strict(data, source)
    metadata = document.get("data", {}).get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        raise BadInput(
            f"{source} is not RSTUF's metadata to sign (no data.metadata)",
            "save the JSON of GET /api/v1/metadata/sign/ from the RSTUF API",
        )
    others = sorted(k for k in metadata if k not in ("root", "trusted_root"))
    if "root" not in metadata:
        shown = ", ".join(others) or "nothing"
        raise BadInput(
            f"{source} holds no pending root (it holds {shown})",
            "only root is signed offline here; sign targets roles with RSTUF's own CLI",
        )
    root, trusted = metadata["root"], metadata.get("trusted_root")
    if not isinstance(root, dict) or not (trusted is None or isinstance(trusted, dict)):
        raise BadInput(
            f"{source}: root and trusted_root must be metadata objects",
            "save RSTUF's GET /api/v1/metadata/sign/ answer unchanged and import that file",
        )
    return root, trusted


def _metadata(document: dict[str, Any], what: str) -> Metadata[Root]:
    try:
        metadata = Metadata.from_dict(copy.deepcopy(document))
    except (KeyError, TypeError, ValueError) as error:
        raise BadInput(
            f"{what} is not valid TUF metadata: {error}",
            "save RSTUF's answer unchanged and import that file",
        ) from None
    if not isinstance(metadata.signed, Root):
        raise BadInput(
            f"{what} is {metadata.signed.type} metadata, not root",
            "import RSTUF's pending root (metadata to sign)",
        )
    return metadata


def check_pending(
    ws: Workspace, root_doc: dict[str, Any], trusted_doc: dict[str, Any] | None, source: str
) -> Pending:
    """Refuse a pending root that is not the next one after ours, has
    expired, or whose signatures RSTUF broke; keep the valid signatures."""
    pending = _metadata(root_doc, f"the pending root in {source}")
    ours = ws.published("root")
    _check_trusted(ours, trusted_doc, pending, source)
    if pending.signed.is_expired(datetime.now(UTC)):
        raise CheckFailed(
            f"the pending root v{pending.signed.version} in {source} expired on "
            f"{pending.signed.expires:%Y-%m-%d}",
            "ask the RSTUF operator to start the root update again with a later expiry",
        )
    profiles.check_root(pending.signed, profiles.RSTUF)
    previous = ours.signed if ours is not None else None
    kept = _valid_signatures(pending, previous, source)
    base = ours.signed.version if ours is not None else None
    return Pending(pending, base, kept)


def _check_trusted(
    ours: Metadata[Root] | None,
    trusted_doc: dict[str, Any] | None,
    pending: Metadata[Root],
    source: str,
) -> None:
    expected = ours.signed.version + 1 if ours is not None else 1
    if pending.signed.version != expected:
        raise BadInput(
            f"the pending root in {source} is version {pending.signed.version}; "
            f"the next root here is version {expected}",
            "bring this workspace's root history up to date with RSTUF's (ceremony import), "
            "or fetch the current metadata to sign",
        )
    if ours is None:
        return
    if trusted_doc is None:
        raise BadInput(
            f"{source} has no trusted_root: the pending root cannot be checked against ours",
            "save the whole response of GET /api/v1/metadata/sign/",
        )
    trusted = _metadata(trusted_doc, f"the trusted root in {source}")
    if canonical(trusted.signed.to_dict()) != payload_bytes(ours):
        raise BadInput(
            f"RSTUF's trusted root (v{trusted.signed.version}) in {source} is not root "
            f"v{ours.signed.version} as published here",
            "this is another repository, or RSTUF's root differs from ours: stop and find out why",
        )


def _valid_signatures(pending: Metadata[Root], previous: Root | None, source: str) -> list[str]:
    """Every signature by a key either root names must still verify: one
    that does not means RSTUF (or someone) changed the signed content.
    Signatures by keys neither root names are not kept."""
    payload = payload_bytes(pending)
    result = pending.signed.get_root_verification_result(previous, payload, pending.signatures)
    good = set(result.first.signed) | set(result.second.signed)
    named = set(result.first.signed) | set(result.first.unsigned)
    named |= set(result.second.signed) | set(result.second.unsigned)
    broken = sorted((set(pending.signatures) & named) - good)
    if broken:
        raise CheckFailed(
            f"{len(broken)} signature(s) on the pending root in {source} do not verify "
            f"(keys {', '.join(k[:8] for k in broken)}): its content changed after they were made",
            "RSTUF re-serialises roots and drops key fields other than x-rstuf-key-name; "
            "the root must be made under the rstuf profile. Do not sign it: ask the operator",
        )
    return sorted(good)


def plan_pending(ws: Workspace, pending: Pending) -> plans.StagePlan:
    """The pending root, with the signatures it already has, as a plan to stage for review."""
    from ceremony.review import describe

    signatures = {k: pending.metadata.signatures[k] for k in pending.signatures_kept}
    metadata = Metadata(pending.metadata.signed, signatures)
    roles.check_root(metadata.signed)
    previous = ws.published("root") if pending.base_version is not None else None
    dropped = len(ws.staged("root").signatures) if "root" in ws.staged_roles() else 0
    return plans.StagePlan(
        "RSTUF pending root",
        "root",
        metadata,
        pending.base_version,
        describe(metadata, previous),
        [],
        dropped,
    )


def stage_pending(ws: Workspace, pending: Pending) -> plans.Staged:
    """Stage the pending root with the signatures it already has, for review."""
    return plans.stage(ws, plan_pending(ws, pending))


def read_metadata_to_sign(ws: Workspace, path: Path) -> Pending:
    """Read and check RSTUF's metadata to sign from a file (USB or QR)."""
    data = read_bounded(path, PAYLOAD_LIMIT, "RSTUF metadata to sign")
    root_doc, trusted_doc = parse_metadata_to_sign(data, str(path))
    return check_pending(ws, root_doc, trusted_doc, str(path))


def export_dir(
    ws: Workspace, directory: Path, bins: Bins | None = None, timeout: int = DEFAULT_TIMEOUT
) -> tuple[Path, dict[str, bytes]]:
    """Write every payload with a SHA256SUMS into a new directory (a stick), and record it."""
    import hashlib

    from ceremony import audit
    from ceremony.transfer.bundle import write_files

    files = export_files(ws, bins, timeout)
    target = write_files(files, directory, with_sums=True)
    rows = [
        {"name": n, "length": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for n, d in sorted(files.items())
    ]
    ws.record(
        audit.EXPORT, None, purpose="rstuf", medium="directory", destination=str(target), files=rows
    )
    return target, files
