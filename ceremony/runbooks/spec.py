"""The actions a runbook step may name, as data: parameters, results, outputs.

The validator checks every ``do:`` step against this catalogue (an unknown
action, an unknown or missing parameter, a fork on a result the action
never gives are errors naming the line), the printed runbook describes the
action from it, and :mod:`ceremony.runbooks.actions` implements each entry
by calling the :class:`~ceremony.session.Ceremony`. Nothing here imports
the heavy parts of the tool, so listing and checking runbooks stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT, NAMES, LIST, NUMBER = "text", "names", "list", "number"
YESNO, PATH, CHOICE = "yes/no", "path", "choice"
"""Parameter kinds: one line of text; a comma-separated list of names; a
comma-separated list of any text (path patterns); a whole number; yes or no;
a file or folder path; one of the listed choices."""


@dataclass(frozen=True)
class Param:
    """One parameter of an action; values are templates (``{var}``)."""

    name: str
    kind: str = TEXT
    required: bool = False
    default: str | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class ActionSpec:
    """What an action takes, what results it can give, what it adds to the run.

    ``results`` are the words a step may fork on (``if RESULT: go to``);
    ``irregular`` results need a recorded decision, as a failure does;
    ``outputs`` are the variables (``*`` a holder's or item's name) the
    action sets for later steps.
    """

    name: str
    summary: str
    params: tuple[Param, ...] = ()
    results: tuple[str, ...] = ("done",)
    irregular: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


_ROLE = Param("role", required=True, help="the role: root, targets or a delegated role")
_DIR = Param("dir", PATH, required=True, help="a folder (the USB stick)")
_HOLDERS = Param("holders", NAMES, help="only these holders (default: everyone needed)")

ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "preflight",
            "check that the laptop is offline (network, radios, clock, swap, entropy)",
            results=("ok", "warnings"),
        ),
        ActionSpec("inventory", "list every token present and record its label, serial, model"),
        ActionSpec(
            "init-token",
            "initialise a token: label, security officer PIN, user PIN",
            (
                Param("label", required=True, help="the token's new label"),
                Param("erase", YESNO, default="no", help="yes: reset a token that holds keys"),
                Param("token", help="the token to reset, by label or serial (with erase)"),
            ),
            outputs=("serial.*",),
        ),
        ActionSpec(
            "generate-key",
            "generate a key pair inside a token; the private key never leaves it",
            (
                Param("token", required=True, help="the token, by label or serial"),
                Param("owner", required=True, help="the key holder's name"),
                Param("label", default="root", help="the key's label on the token"),
                Param(
                    "type",
                    CHOICE,
                    default="ecdsa-p256",
                    choices=("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072", "rsa-4096"),
                ),
            ),
            outputs=("key.*",),
        ),
        ActionSpec(
            "load-key",
            "take a public key from a file (an online key, a delegated role's key)",
            (
                Param("file", PATH, required=True, help="TUF key JSON or a PEM public key"),
                Param("owner", required=True, help="a name for the key, shown at review"),
            ),
            outputs=("key.*",),
        ),
        ActionSpec(
            "bag-open",
            "compare the number on a tamper-evident bag with the number recorded at sealing",
            (Param("item", required=True, help="what the bag holds, e.g. a holder's token"),),
            results=("match", "mismatch"),
            irregular=("mismatch",),
        ),
        ActionSpec(
            "bag-seal",
            "seal an item in a new tamper-evident bag; its number is typed twice and recorded",
            (Param("item", required=True, help="what the bag holds"),),
            outputs=("bag.*",),
        ),
        ActionSpec(
            "stage-root",
            "stage root version 1: holders' keys, thresholds, online keys",
            (
                Param("root", NAMES, required=True, help="holders whose keys sign root"),
                Param("threshold", NUMBER, required=True, help="root signatures required"),
                Param("targets", NAMES, required=True, help="keys that sign targets"),
                Param("targets-threshold", NUMBER, help="targets signatures (default threshold)"),
                Param("snapshot", NAMES, required=True, help="the snapshot key (online)"),
                Param("timestamp", NAMES, required=True, help="the timestamp key (online)"),
            ),
        ),
        ActionSpec(
            "stage-rotation",
            "stage the next root version: holders removed and added, thresholds, online keys",
            (
                Param("remove", NAMES, help="holders whose keys leave"),
                Param("add", NAMES, help="holders whose keys (from this run) join"),
                Param("roles", NAMES, default="root", help="roles the holders' keys serve"),
                Param("threshold", NUMBER, help="new root threshold"),
                Param("targets-threshold", NUMBER, help="new targets threshold"),
                Param("snapshot", NAMES, help="replace the snapshot key with these"),
                Param("timestamp", NAMES, help="replace the timestamp key with these"),
                Param("expires", NUMBER, help="root expiry in days (default from ceremony.toml)"),
            ),
        ),
        ActionSpec(
            "challenge",
            "write the proof-of-possession challenge of the staged root for holders not here",
            (
                Param("holders", NAMES, required=True, help="the holders not in the room"),
                _DIR,
            ),
            outputs=("challenge",),
        ),
        ActionSpec(
            "add-remote-keys",
            "check each absent holder's proof of possession, then add their keys to the root",
            (
                Param("holders", NAMES, required=True, help="the holders not in the room"),
                _DIR,
                Param("roles", NAMES, default="root", help="roles their keys serve"),
            ),
            results=("accepted", "refused"),
            irregular=("refused",),
            outputs=("key.*",),
        ),
        ActionSpec(
            "delegate",
            "stage a delegation: a role trusted with some paths by its keys",
            (
                Param("name", required=True, help="the delegated role's name"),
                Param("keys", NAMES, required=True, help="its keys, by owner"),
                Param("paths", LIST, required=True, help="path patterns, e.g. pkgs/*"),
                Param("threshold", NUMBER, default="1"),
                Param("from", default="targets", help="the delegating role"),
                Param("expires", NUMBER, help="default expiry of the delegated role's metadata"),
            ),
        ),
        ActionSpec(
            "revoke",
            "stage the delegating role without a delegation",
            (Param("name", required=True), Param("from", default="targets")),
        ),
        ActionSpec(
            "bump",
            "stage the next version of a role with a fresh expiry",
            (Param("role", default="targets"), Param("expires", NUMBER, help="days")),
        ),
        ActionSpec(
            "review",
            "show what the staged role changes and its hash as words; confirm it was shown",
            (_ROLE,),
        ),
        ActionSpec(
            "sign",
            "collect the signatures of the holders present, token by token",
            (_ROLE, _HOLDERS),
            results=("complete", "incomplete"),
        ),
        ActionSpec(
            "merge",
            "add signatures made elsewhere from a copy of the staged role",
            (Param("file", PATH, required=True), Param("role")),
        ),
        ActionSpec("publish", "check a fully signed role and write it into metadata/", (_ROLE,)),
        ActionSpec(
            "verify",
            "verify the whole repository: root chain, thresholds, expiries",
            results=("ok", "failed"),
            irregular=("failed",),
        ),
        ActionSpec(
            "export",
            "write a bundle for the other side of the air gap into a new folder",
            (
                Param("purpose", CHOICE, default="publish", choices=("publish", "partial", "keys")),
                _DIR,
                Param("roles", NAMES, help="only these roles (default all)"),
            ),
        ),
        ActionSpec(
            "import", "check a bundle from a folder, then merge or add what it carries", (_DIR,)
        ),
        ActionSpec(
            "close",
            "every participant says agree or do not agree; the record is closed",
            (Param("outcome", default="completed", help="the ceremony's outcome in words"),),
        ),
    )
}

CHECK_RESULTS = ("confirmed", "not-confirmed")
"""What a manual check records."""

BUILTIN_VARS = ("operator", "witnesses", "workspace", "repository", "runbook", "date")
"""Variables every step may use."""

REHEARSAL_VARS = (
    "holders",
    "threshold",
    "first",
    "last",
    "others",
    "newcomer",
    "remote",
    "site",
    "site-holders",
    "files",
    "stick",
)
"""What a ``rehearse:`` answer may name as ``{rehearsal.NAME}`` (see docs/runbooks.md)."""
