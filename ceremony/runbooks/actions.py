"""What each runbook action does: a preview, then the change, through the Ceremony.

Every action is a thin use of the same plans and calls the command line
and the app use (:class:`~ceremony.session.Ceremony`), so a runbook gets
every safeguard they have. An action may show what it will do first
(:meth:`Action.preview`: the plan's summary, the review), ask a person for
values (:meth:`Action.inputs`: bag numbers, agreement), then act
(:meth:`Action.perform`) and say what happened in an :class:`Outcome`.

Actions are written to be carried out again after an interruption: when a
run resumes a step whose action had begun, ``ctx.since`` holds the records
written since it began, and an action that finds its own effect there (a
key generated, a role staged or published, a bundle exported) reports it
instead of doing it twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ceremony import audit
from ceremony.errors import BadInput, CeremonyError, KeyError_, ProofRefused
from ceremony.runbooks import spec
from ceremony.runbooks.template import parse_list, parse_names, parse_number, parse_yes_no
from ceremony.text import visible
from ceremony.words import short_words

if TYPE_CHECKING:
    from securesystemslib.signer import Key

    from ceremony import plans
    from ceremony.session import Ceremony
    from ceremony.tokens import PinSource


class Secrets(Protocol):
    """How a front end answers for PINs: never stored, never recorded."""

    def pin_source(self) -> PinSource | None:
        """Asked at each login for the PIN of the token named in the prompt."""

    def new_pins(self, label: str) -> tuple[str, str]:
        """The security officer PIN and user PIN for a token being initialised."""


@dataclass(frozen=True)
class Input:
    """A value the action needs typed by a person (not a PIN)."""

    name: str
    prompt: str
    choices: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What an action did: its result word, lines to show, variables it set.

    ``irregular`` (expected, actual) is set when the result needs a
    recorded decision (a bag number that does not match, a refused proof).
    ``closes`` asks the run to close the record once the step is confirmed.
    """

    result: str
    lines: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    irregular: tuple[str, str] | None = None
    closes: dict[str, Any] | None = None


@dataclass
class Context:
    """What an action gets: the ceremony, its parameters, typed values, PINs."""

    ceremony: Ceremony
    params: dict[str, Any]
    values: Mapping[str, Any]
    inputs: dict[str, str] = field(default_factory=dict)
    secrets: Secrets | None = None
    since: list[dict[str, Any]] = field(default_factory=list)
    resumed: bool = False
    scratch: dict[str, Any] = field(default_factory=dict)
    participants: list[str] = field(default_factory=list)
    by: str | None = None

    def text(self, name: str) -> str:
        value = self.params.get(name)
        return "" if value is None else str(value).strip()

    def names(self, name: str) -> list[str]:
        return parse_names(self.params.get(name), name)

    def number(self, name: str) -> int | None:
        value = self.text(name)
        return parse_number(value, name) if value else None

    def path(self, name: str) -> Path:
        value = self.text(name)
        if not value:
            raise BadInput(f"no {name} was given for this step", f"type the {name} when asked")
        return Path(value).expanduser()

    def found(self, event: str, **match: Any) -> dict[str, Any] | None:
        """A record of ``event`` written by this step before an interruption."""
        for record in reversed(self.since):
            details = record["details"]
            if record["event"] == event and all(details.get(k) == v for k, v in match.items()):
                return record
        return None

    def pins(self) -> PinSource | None:
        return self.secrets.pin_source() if self.secrets is not None else None


class Action:
    """One entry of :data:`ceremony.runbooks.spec.ACTIONS`, carried out."""

    name = ""

    @property
    def spec(self) -> spec.ActionSpec:
        return spec.ACTIONS[self.name]

    def inputs(self, ctx: Context) -> tuple[Input, ...]:
        return ()

    def preview(self, ctx: Context) -> list[str]:
        return [self.spec.summary]

    def perform(self, ctx: Context) -> Outcome:
        raise NotImplementedError


# --------------------------------------------------------------------------
# Keys by their holders' names


def _key_files(ctx: Context) -> list[Path]:
    return sorted(p for p in ctx.ceremony.workspace.keys_dir.glob("*.json") if p.is_file())


def key_for(ctx: Context, owner: str) -> Key:
    """The key of ``owner``: the one this run made or loaded, else the only one in keys/."""
    from ceremony.keys import load_key_file, owner_of

    keyid = ctx.values.get(f"key.{owner}")
    files = _key_files(ctx)
    if keyid:
        for path in files:
            if path.stem.endswith(str(keyid)[:12]):
                key = load_key_file(path)
                if key.keyid == keyid:
                    return key
    found = [key for key in (load_key_file(p) for p in files) if owner_of(key) == owner]
    if len(found) == 1:
        return found[0]
    problem = "no key" if not found else f"{len(found)} keys"
    raise KeyError_(
        f"{problem} of {visible(owner)} in {ctx.ceremony.workspace.keys_dir}",
        "generate or load the key in an earlier step of this runbook",
    )


def _keys(ctx: Context, param: str) -> list[Key]:
    return [key_for(ctx, owner) for owner in ctx.names(param)]


def _base_root(ctx: Context) -> Any:
    ws = ctx.ceremony.workspace
    if "root" in ws.staged_roles():
        return ws.staged("root").signed
    return ws.newest_root().signed


def _words(digest: str) -> str:
    return short_words(digest)


# --------------------------------------------------------------------------
# Opening: preflight and tokens


class Preflight(Action):
    name = "preflight"

    def perform(self, ctx: Context) -> Outcome:
        from ceremony.airgap import OK

        report = ctx.ceremony.last_preflight
        if report is None:
            ctx.ceremony.reopen()
            report = ctx.ceremony.last_preflight
        assert report is not None
        lines = [f"[{c.status}] {visible(c.message)}" for c in report.checks]
        result = "ok" if report.status == OK else "warnings"
        return Outcome(result, lines, details={"status": report.status})


class Inventory(Action):
    name = "inventory"

    def perform(self, ctx: Context) -> Outcome:
        lines = []
        for info in ctx.ceremony.tokens():
            if not info.present:
                continue
            ctx.ceremony.record(audit.TOKEN_SEEN, **info.to_dict())
            lines.append(
                f"slot {info.slot_id}: {visible(info.name())}, "
                f"{visible(info.manufacturer)} {visible(info.model)}".strip()
            )
        return Outcome("done", lines or ["no token is present"])


class InitToken(Action):
    name = "init-token"

    def preview(self, ctx: Context) -> list[str]:
        label, erase = ctx.text("label"), parse_yes_no(ctx.text("erase"), "erase")
        selector = ctx.text("token") or None
        ctx.ceremony.check_token_init(None if erase else selector)
        if erase:
            return [
                f"ERASE token {visible(selector or '?')} and initialise it as {visible(label)!r}"
            ]
        return [f"Initialise a blank token with the label {visible(label)!r} and new PINs"]

    def perform(self, ctx: Context) -> Outcome:
        label, erase = ctx.text("label"), parse_yes_no(ctx.text("erase"), "erase")
        done = ctx.found(audit.TOKEN_INITIALISED, label=label)
        if done is None and ctx.resumed:
            done = self._adopt(ctx, label)
        if done is not None:
            serial = done["details"].get("serial")
            return Outcome(
                "done",
                [f"Token {visible(label)!r} was initialised before the interruption."],
                {f"serial.{label}": serial},
            )
        if ctx.secrets is None:
            raise BadInput("new PINs are needed to initialise a token", "run the step again")
        so_pin, user_pin = ctx.secrets.new_pins(label)
        info = ctx.ceremony.init_token(
            label, so_pin, user_pin, selector=ctx.text("token") or None, erase=erase
        )
        del so_pin, user_pin
        lines = [
            f"Token {visible(label)!r} initialised: serial {visible(info.serial)}, "
            f"{visible(info.manufacturer)} {visible(info.model)}"
        ]
        return Outcome("done", lines, {f"serial.{label}": info.serial}, {"serial": info.serial})

    @staticmethod
    def _adopt(ctx: Context, label: str) -> dict[str, Any] | None:
        """A token initialised just before a power cut, whose record was lost."""
        for info in ctx.ceremony.tokens():
            if info.present and info.initialized and info.label == label:
                ctx.ceremony.record(
                    audit.TOKEN_INITIALISED,
                    ctx.ceremony.operator,
                    erased=False,
                    found_after_interruption=True,
                    **info.to_dict(),
                )
                return {"details": {"serial": info.serial}}
        return None


class GenerateKey(Action):
    name = "generate-key"

    def preview(self, ctx: Context) -> list[str]:
        return [
            f"Generate a {ctx.text('type')} key labelled {visible(ctx.text('label'))!r} for "
            f"{visible(ctx.text('owner'))} on token {visible(ctx.text('token'))}"
        ]

    def perform(self, ctx: Context) -> Outcome:
        token, owner, label = ctx.text("token"), ctx.text("owner"), ctx.text("label")
        key = None
        if ctx.resumed:
            key = self._on_token(ctx, token, label, owner)
        if key is None:
            generated = ctx.ceremony.generate_key(token, ctx.text("type"), label, owner, ctx.pins())
            key, verdict = generated.key, generated.info.born_on_token
        else:
            verdict = True
        ctx.ceremony.workspace.add_key(key)
        lines = [
            f"Key of {visible(owner)} generated on token {visible(token)}",
            f"  keyid {key.keyid}",
            f"  words {_words(key.keyid)}",
            "  born on the token, cannot leave it" if verdict else "  NOT PROVEN born on token",
        ]
        return Outcome("done", lines, {f"key.{owner}": key.keyid}, {"keyid": key.keyid})

    @staticmethod
    def _on_token(ctx: Context, token: str, label: str, owner: str) -> Key | None:
        """The key this step made before an interruption, found on the token."""
        done = ctx.found(audit.KEY_GENERATED, label=label, token=token)
        infos = [i for i in ctx.ceremony.token_keys(token, ctx.pins()) if i.label == label]
        if not infos or infos[0].key is None:
            return None
        key = infos[0].key
        if done is None:
            evidence = infos[0].evidence
            ctx.ceremony.record(
                audit.KEY_GENERATED,
                owner,
                keyid=key.keyid,
                label=label,
                token=token,
                found_after_interruption=True,
                evidence=evidence.to_dict() if evidence else None,
                born_on_token=infos[0].born_on_token,
            )
        return key


class LoadKey(Action):
    name = "load-key"

    def perform(self, ctx: Context) -> Outcome:
        from ceremony.keys import check_public_key, load_key_file

        owner = ctx.text("owner")
        key = check_public_key(load_key_file(ctx.path("file"), owner))
        ctx.ceremony.workspace.add_key(key)
        lines = [f"Key {key.keyid[:16]} of {visible(owner)} taken from {visible(ctx.text('file'))}"]
        return Outcome("done", lines, {f"key.{owner}": key.keyid}, {"keyid": key.keyid})


# --------------------------------------------------------------------------
# Tamper-evident bags

_BAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}$")


def _bag_number(text: str) -> str:
    number = " ".join(str(text).split())
    if not _BAG.match(number):
        raise BadInput(
            f"{visible(number)!r} is not a bag number",
            "type the number printed on the bag: letters, digits, spaces, . / - (at most 40)",
        )
    return number


def sealed_number(ctx: Context, item: str) -> tuple[str, str] | None:
    """The number recorded when ``item`` was last sealed, and where it was recorded."""
    directory = ctx.ceremony.workspace.root / audit.TRANSCRIPTS_DIR
    for path in sorted(directory.glob("*.jsonl"), reverse=True):
        try:
            records, _ = audit.read_records(path)
        except CeremonyError:
            continue
        for record in reversed(records):
            details = record["details"]
            outputs = details.get("outputs") or {}
            sealing = record["event"] == audit.STEP and details.get("action") == "bag-seal"
            if sealing and f"bag.{item}" in outputs:
                return str(outputs[f"bag.{item}"]), f"{path.name}, record {record['seq']}"
    return None


class BagOpen(Action):
    name = "bag-open"

    def inputs(self, ctx: Context) -> tuple[Input, ...]:
        item = ctx.text("item")
        typed = Input("number", f"Number printed on the bag of {visible(item)}")
        if sealed_number(ctx, item) is None:
            logged = Input("logged", f"Number written in the paper log for {visible(item)}")
            return (typed, logged)
        return (typed,)

    def perform(self, ctx: Context) -> Outcome:
        item = ctx.text("item")
        typed = _bag_number(ctx.inputs.get("number", ""))
        sealed = sealed_number(ctx, item)
        if sealed is None:
            expected, source = _bag_number(ctx.inputs.get("logged", "")), "the paper log"
        else:
            expected, source = sealed
        details = {"item": item, "typed": typed, "expected": expected, "source": source}
        if typed == expected:
            return Outcome(
                "match", [f"Bag of {visible(item)}: {typed}, as in {source}"], {}, details
            )
        return Outcome(
            "mismatch",
            [f"Bag of {visible(item)}: {typed} typed, but {expected} in {source}"],
            {},
            details,
            irregular=(f"bag number {expected} ({source})", f"bag number {typed}"),
        )


class BagSeal(Action):
    name = "bag-seal"

    def inputs(self, ctx: Context) -> tuple[Input, ...]:
        item = visible(ctx.text("item"))
        return (
            Input("number", f"Number of the new bag holding {item}"),
            Input("again", f"The same number, read back by a witness, for {item}"),
        )

    def perform(self, ctx: Context) -> Outcome:
        item = ctx.text("item")
        first = _bag_number(ctx.inputs.get("number", ""))
        second = _bag_number(ctx.inputs.get("again", ""))
        if first != second:
            raise BadInput(
                f"the bag number was typed as {first} and read back as {second}",
                "read the number on the bag again, slowly, and type it twice",
            )
        lines = [f"{visible(item)} sealed in bag {first}; write it in the paper log"]
        return Outcome("done", lines, {f"bag.{item}": first}, {"item": item, "number": first})


# --------------------------------------------------------------------------
# Staging


def _recorded_payloads(ctx: Context) -> set[str]:
    """Every payload a STAGED record in this workspace's transcripts names."""
    directory = ctx.ceremony.workspace.root / audit.TRANSCRIPTS_DIR
    found: set[str] = set()
    for path in sorted(directory.glob("*.jsonl")):
        try:
            records, _ = audit.read_records(path)
        except CeremonyError:
            continue
        found |= {
            str(r["details"].get("payload_sha256")) for r in records if r["event"] == audit.STAGED
        }
    return found


def staged_before(ctx: Context, role: str) -> dict[str, Any] | None:
    """What this step staged before an interruption: its STAGED record, or,
    when the power cut came after the proposal was written but before its
    record, the proposal itself (no record anywhere names its payload, and
    this step is the one that was staging), recorded now."""
    record = ctx.found(audit.STAGED, role=role)
    if record is not None or not ctx.resumed:
        return record
    ws = ctx.ceremony.workspace
    if role not in ws.staged_roles():
        return None
    staged = ws.staged_payload(role)
    if staged.digest in _recorded_payloads(ctx):
        return None
    details: dict[str, Any] = {
        "role": role,
        "version": staged.version(),
        "payload_sha256": staged.digest,
    }
    ctx.ceremony.record(audit.STAGED, found_after_interruption=True, **details)
    return {"details": details}


class _Stage(Action):
    """Build a plan (shown first), then stage exactly that plan."""

    role = "root"

    def plan(self, ctx: Context) -> plans.StagePlan:
        raise NotImplementedError

    def preview(self, ctx: Context) -> list[str]:
        if self._staged_before(ctx) is not None:
            return ["This step staged its proposal before the interruption."]
        plan = self.plan(ctx)
        ctx.scratch["plan"] = plan
        return plan.summary()

    def _role(self, ctx: Context) -> str:
        return self.role

    def _staged_before(self, ctx: Context) -> dict[str, Any] | None:
        return staged_before(ctx, self._role(ctx))

    def perform(self, ctx: Context) -> Outcome:
        before = self._staged_before(ctx)
        if before is not None:
            details = before["details"]
            return Outcome(
                "done",
                [
                    f"Staged {visible(details['role'])} version {details['version']} before the "
                    "interruption."
                ],
                details={k: details[k] for k in ("role", "version", "payload_sha256")},
            )
        plan = ctx.scratch.pop("plan", None) or self.plan(ctx)
        staged = ctx.ceremony.stage(plan)
        lines = [
            f"Staged {visible(staged.role)} version {staged.version}: "
            f"{_words(staged.payload_sha256)}",
        ]
        details = {
            "role": staged.role,
            "version": staged.version,
            "payload_sha256": staged.payload_sha256,
        }
        return Outcome("done", lines, details=details)


class StageRoot(_Stage):
    name = "stage-root"

    def plan(self, ctx: Context) -> plans.StagePlan:
        from ceremony.roles import RootPlan

        threshold = ctx.number("threshold") or 1
        add = [("root", key) for key in _keys(ctx, "root")]
        add += [("targets", key) for key in _keys(ctx, "targets")]
        add += [(role, key) for role in ("snapshot", "timestamp") for key in _keys(ctx, role)]
        thresholds = {
            "root": threshold,
            "targets": ctx.number("targets-threshold") or threshold,
        }
        return ctx.ceremony.plan_root_init(RootPlan(add=add, thresholds=thresholds), {}, None)


class StageRotation(_Stage):
    name = "stage-rotation"

    def plan(self, ctx: Context) -> plans.StagePlan:
        from ceremony.roles import RootPlan

        ws = ctx.ceremony.workspace
        roles = ctx.names("roles") or ["root"]
        removed = ctx.names("remove")
        plan = RootPlan(
            remove=[(role, owner) for role in roles for owner in removed],
            add=[(role, key) for role in roles for key in _keys(ctx, "add")],
            root_expiry_days=ctx.number("expires") or ws.config.expiry_days["root"],
        )
        for role in ("snapshot", "timestamp"):
            if ctx.names(role):
                base = _base_root(ctx)
                plan.remove += [(role, keyid) for keyid in base.roles[role].keyids]
                plan.add += [(role, key) for key in _keys(ctx, role)]
        for name, role in (("threshold", "root"), ("targets-threshold", "targets")):
            number = ctx.number(name)
            if number is not None:
                plan.thresholds[role] = number
        plan.remove = [(r, s) for r, s in plan.remove if _listed(ctx, r, s)]
        return ctx.ceremony.plan_rotation(plan)


def _listed(ctx: Context, role: str, selector: str) -> bool:
    """Whether ``selector`` (an owner or keyid) names a key of ``role`` now:
    a holder who left targets earlier is not refused for being absent from it."""
    from ceremony.keys import owner_of

    base = _base_root(ctx)
    for keyid in base.roles[role].keyids:
        if keyid == selector or owner_of(base.keys[keyid]) == selector:
            return True
    return role == "root"


class Delegate(_Stage):
    name = "delegate"

    def _role(self, ctx: Context) -> str:
        return ctx.text("from") or "targets"

    def plan(self, ctx: Context) -> plans.StagePlan:
        from ceremony.roles import DelegationPlan

        plan = DelegationPlan(
            name=ctx.text("name"),
            keys=_keys(ctx, "keys"),
            threshold=ctx.number("threshold") or 1,
            paths=parse_list(ctx.params.get("paths"), "paths"),
        )
        return ctx.ceremony.plan_delegation(plan, self._role(ctx), ctx.number("expires"))


class Revoke(_Stage):
    name = "revoke"

    def _role(self, ctx: Context) -> str:
        return ctx.text("from") or "targets"

    def plan(self, ctx: Context) -> plans.StagePlan:
        return ctx.ceremony.plan_revoke(ctx.text("name"), self._role(ctx))


class Bump(_Stage):
    name = "bump"

    def _role(self, ctx: Context) -> str:
        return ctx.text("role") or "targets"

    def plan(self, ctx: Context) -> plans.StagePlan:
        return ctx.ceremony.plan_bump(self._role(ctx), ctx.number("expires"))


# --------------------------------------------------------------------------
# Holders not in the room


def proof_path(directory: Path, owner: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", owner).strip("-").lower() or "holder"
    return directory / f"{slug}.proof.json"


def _stick(ctx: Context) -> Path:
    directory = ctx.path("dir")
    if not directory.is_dir():
        raise BadInput(
            f"{visible(directory)} is not a folder",
            "insert and mount the USB stick, then check the path",
        )
    return directory


class Challenge(Action):
    name = "challenge"

    def perform(self, ctx: Context) -> Outcome:
        from ceremony.fsutil import write_atomic

        challenge = ctx.ceremony.possession_challenge()
        target = _stick(ctx) / "challenge.json"
        write_atomic(target, challenge.to_json())
        lines = [
            f"Challenge for root version {challenge.root_version}: {challenge.words}",
            f"  written to {visible(target)}; read the words to each holder not here:",
        ]
        for owner in ctx.names("holders"):
            lines.append(
                f"  {visible(owner)}: ceremony runbook prove --challenge challenge.json "
                f"--token TOKEN --label KEY --owner {visible(owner)!r} "
                f"-o {proof_path(Path('.'), owner).name}"
            )
        details = {"challenge_sha256": challenge.sha256, "root_version": challenge.root_version}
        return Outcome("done", lines, {"challenge": challenge.sha256}, details)


class AddRemoteKeys(Action):
    name = "add-remote-keys"

    def preview(self, ctx: Context) -> list[str]:
        owners = ", ".join(visible(o) for o in ctx.names("holders"))
        return [f"Check the proofs of possession of {owners}, then add their keys to root"]

    def perform(self, ctx: Context) -> Outcome:
        from ceremony.possession import Proof
        from ceremony.roles import RootPlan

        if staged_before(ctx, "root") is not None:
            return Outcome("accepted", ["The keys were added before the interruption."])
        directory = _stick(ctx)
        accepted: list[tuple[str, Key]] = []
        lines: list[str] = []
        for owner in ctx.names("holders"):
            path = proof_path(directory, owner)
            try:
                key = ctx.ceremony.check_possession(Proof.from_file(path), owner)
            except (ProofRefused, BadInput) as error:
                expected = f"a proof of possession by {owner} over the challenge of the proposal"
                return Outcome(
                    "refused",
                    [
                        *lines,
                        f"REFUSED {visible(owner)}: {visible(error.problem)}",
                        "No key was added.",
                    ],
                    irregular=(expected, error.problem),
                    details={"refused": owner},
                )
            accepted.append((owner, key))
            lines.append(f"accepted: proof of {visible(owner)}, key {key.keyid[:16]}")
        roles = ctx.names("roles") or ["root"]
        days = ctx.ceremony.workspace.config.expiry_days["root"]
        plan = RootPlan(
            add=[(role, key) for role in roles for _owner, key in accepted], root_expiry_days=days
        )
        staged = ctx.ceremony.stage(ctx.ceremony.plan_rotation(plan))
        lines.append(f"Staged root version {staged.version}: {_words(staged.payload_sha256)}")
        outputs = {f"key.{owner}": key.keyid for owner, key in accepted}
        return Outcome("accepted", lines, outputs, {"accepted": [o for o, _ in accepted]})


# --------------------------------------------------------------------------
# Review, signing, publishing


class Review(Action):
    name = "review"

    def preview(self, ctx: Context) -> list[str]:
        review = ctx.ceremony.review(ctx.text("role"))
        ctx.scratch["review"] = review
        return review.lines()

    def perform(self, ctx: Context) -> Outcome:
        review = ctx.scratch.pop("review", None) or ctx.ceremony.review(ctx.text("role"))
        ctx.ceremony.confirm_review(review, ctx.by)
        lines = [f"{visible(review.role)} version {review.version} reviewed: {review.fingerprint}"]
        return Outcome("done", lines, details={"payload_sha256": review.payload_sha256})


class Sign(Action):
    """Driven by the front end through :class:`ceremony.runbooks.engine.RunbookRound`."""

    name = "sign"


class Merge(Action):
    name = "merge"

    def perform(self, ctx: Context) -> Outcome:
        plan = ctx.ceremony.plan_merge(ctx.path("file"), ctx.text("role") or None)
        outcome = ctx.ceremony.merge(plan)
        if outcome.invalid:
            raise BadInput(
                f"{len(outcome.invalid)} signature(s) in {visible(ctx.text('file'))} do not "
                "verify; they were not kept",
                "ask that site to sign again; the valid ones were merged",
            )
        lines = [f"added: {h.describe()}" for h in outcome.added]
        lines += [f"already present: {h.describe()}" for h in outcome.already]
        return Outcome("done", lines or ["no new signatures"])


class Publish(Action):
    name = "publish"

    def preview(self, ctx: Context) -> list[str]:
        role = ctx.text("role")
        if role not in ctx.ceremony.workspace.staged_roles():
            return [f"{visible(role)} was published before the interruption."]
        plan = ctx.ceremony.plan_publish(role)
        ctx.scratch["plan"] = plan
        return [f"Publish {visible(role)} version {plan.version}: every threshold is met"]

    def perform(self, ctx: Context) -> Outcome:
        role = ctx.text("role")
        ws = ctx.ceremony.workspace
        if role not in ws.staged_roles() and self._published_before(ctx, role):
            return Outcome("done", [f"{visible(role)} was published before the interruption."])
        plan = ctx.scratch.pop("plan", None) or ctx.ceremony.plan_publish(role)
        written = ctx.ceremony.publish(plan)
        lines = [f"Published {p.relative_to(ws.root)}" for p in written]
        return Outcome("done", lines, details={"role": role, "version": plan.version})

    @staticmethod
    def _published_before(ctx: Context, role: str) -> bool:
        """Published by this step before a power cut, even if its record was cut off."""
        if ctx.found(audit.PUBLISH, role=role) is not None:
            return True
        if not ctx.resumed:
            return False
        from ceremony.metafile import payload_sha256

        published = ctx.ceremony.workspace.published(role)
        transcript = ctx.ceremony.transcript
        if published is None or transcript is None:
            return False
        digest = payload_sha256(published)
        records, _ = audit.read_records(transcript.path)
        return any(
            r["event"] == audit.STAGED and r["details"].get("payload_sha256") == digest
            for r in records
        )


class Verify(Action):
    name = "verify"

    def perform(self, ctx: Context) -> Outcome:
        from ceremony.verify import verify_workspace

        report = verify_workspace(ctx.ceremony.workspace)
        lines = [
            f"{item.status:5} {visible(item.role)} {item.version or ''} {visible(item.reason)}"
            for item in report.items
        ]
        if report.ok:
            return Outcome("ok", lines)
        actual = "; ".join(visible(f"{i.role}: {i.reason}") for i in report.failures)
        return Outcome("failed", lines, irregular=("every check passes", actual))


# --------------------------------------------------------------------------
# Carrying files


class Export(Action):
    name = "export"

    def _bundle(self, ctx: Context) -> Any:
        from ceremony.transfer import exchange

        ws = ctx.ceremony.writable_workspace()
        purpose = ctx.text("purpose") or "publish"
        if purpose == "keys":
            return exchange.build_keys_export(ws)
        roles = ctx.names("roles") or None
        return exchange.build_export(ws, roles, partial=purpose == "partial")

    def perform(self, ctx: Context) -> Outcome:
        from ceremony.transfer import exchange

        target = ctx.path("dir")
        if ctx.found(audit.EXPORT, destination=str(target.absolute())) is not None:
            return Outcome("done", [f"Exported to {visible(target)} before the interruption."])
        bundle = self._bundle(ctx)
        ws = ctx.ceremony.writable_workspace()
        if ctx.resumed and (target / "bundle.json").is_file():
            bundle = _written_before(bundle, target)
            exchange.record_export(
                ws,
                bundle,
                medium="directory",
                destination=str(target.absolute()),
                written_before_interruption=True,
            )
        else:
            target = exchange.export_dir(ws, bundle, target)
        lines = [
            f"{len(bundle.files)} files written to {visible(target)}",
            f"bundle {_words(bundle.digest())}: compare these words on the other side",
        ]
        return Outcome("done", lines, details={"bundle_sha256": bundle.digest()})


def _written_before(bundle: Any, target: Path) -> Any:
    """The bundle an interrupted export left, if it carries what we would export now."""
    from ceremony.transfer.bundle import read_path

    existing = read_path(target)
    mine = {f.name: f.sha256 for f in bundle.files if not f.name.startswith("transcripts/")}
    theirs = {f.name: f.sha256 for f in existing.files if not f.name.startswith("transcripts/")}
    if mine != theirs or existing.purpose != bundle.purpose:
        raise BadInput(
            f"{visible(target)} already holds another bundle",
            "give a new, empty folder for this export",
        )
    return existing


class Import(Action):
    name = "import"

    def _plan(self, ctx: Context) -> Any:
        from ceremony.transfer import exchange
        from ceremony.transfer.bundle import read_path

        source = ctx.path("dir")
        bundle = read_path(source)
        return exchange.plan_import(ctx.ceremony.workspace, bundle, str(source))

    def preview(self, ctx: Context) -> list[str]:
        plan = self._plan(ctx)
        ctx.scratch["plan"] = plan
        lines = [f"Bundle ({plan.bundle.purpose}) {_words(plan.bundle.digest())}"]
        for item in plan.roles:
            what = "stage and merge" if item.stage else "merge signatures of"
            lines.append(f"  {what} {visible(item.role)} version {item.metadata.signed.version}")
        lines += [f"  add key {visible(name)}" for name, _key in plan.keys]
        lines += [f"  note: {visible(note)}" for note in plan.notes]
        return lines

    def perform(self, ctx: Context) -> Outcome:
        from ceremony.transfer import exchange

        plan = ctx.scratch.pop("plan", None) or self._plan(ctx)
        digest = plan.bundle.digest()
        if ctx.found(audit.IMPORT, bundle_sha256=digest) is not None:
            return Outcome("done", ["Imported before the interruption."])
        report = exchange.apply_import(ctx.ceremony.writable_workspace(), plan)
        if report.failed:
            bad = sum(len(r.invalid) for r in report.roles)
            raise BadInput(
                f"{bad} signature(s) in the bundle do not verify; they were not kept",
                "ask the other site to sign again and send a new bundle",
            )
        lines = [
            f"{visible(r.role)} v{r.version}: {len(r.added)} signature(s) added, "
            f"{len(r.already)} already here" + (" (staged for review)" if r.staged else "")
            for r in report.roles
        ]
        lines += [f"key added: {k}" for k in report.keys_added]
        return Outcome("done", lines or ["nothing new"], details={"bundle_sha256": digest})


# --------------------------------------------------------------------------
# Closing

AGREE, DISAGREE = "agree", "do not agree"


class Close(Action):
    name = "close"

    def inputs(self, ctx: Context) -> tuple[Input, ...]:
        return tuple(
            Input(f"agree:{name}", f"{visible(name)}: agree or do not agree", (AGREE, DISAGREE))
            for name in ctx.participants
        )

    def preview(self, ctx: Context) -> list[str]:
        return [
            "Every participant says whether they agree that the record is a true account "
            "of this ceremony; then the record is closed.",
            *(f"  {visible(name)}" for name in ctx.participants),
        ]

    def perform(self, ctx: Context) -> Outcome:
        agreed: list[str] = []
        disagreed: list[str] = []
        for name in ctx.participants:
            answer = ctx.inputs.get(f"agree:{name}", "").strip().lower()
            if answer not in (AGREE, DISAGREE):
                raise BadInput(
                    f"{visible(name)} has not said agree or do not agree",
                    "ask each participant in turn",
                )
            (agreed if answer == AGREE else disagreed).append(name)
        for name in ctx.participants:
            ctx.ceremony.record(audit.AGREEMENT, name, agrees=name in agreed)
        lines = [f"agree: {visible(n)}" for n in agreed]
        lines += [f"DO NOT AGREE: {visible(n)}" for n in disagreed]
        closes = {
            "outcome": ctx.text("outcome") or "completed",
            "agreed": agreed,
            "not_agreed": disagreed,
        }
        return Outcome("done", lines, details={"not_agreed": disagreed}, closes=closes)


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Preflight(),
        Inventory(),
        InitToken(),
        GenerateKey(),
        LoadKey(),
        BagOpen(),
        BagSeal(),
        StageRoot(),
        StageRotation(),
        Challenge(),
        AddRemoteKeys(),
        Delegate(),
        Revoke(),
        Bump(),
        Review(),
        Sign(),
        Merge(),
        Publish(),
        Verify(),
        Export(),
        Import(),
        Close(),
    )
}
assert set(ACTIONS) == set(spec.ACTIONS), "every action in the catalogue is implemented"
