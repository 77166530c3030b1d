"""Rehearsing a runbook: every step answered by a script, on private SoftHSM tokens.

People practise a runbook before the real day, and the test suite proves
each shipped runbook works end to end, the same way: a :class:`Script`
answers each view of a :class:`~ceremony.runbooks.engine.Run` as the people
in the room would. Checks are confirmed by the person the step names;
questions and typed values take the step's ``rehearse:`` answer (with the
``{rehearsal.NAME}`` values of :meth:`Rehearsal.values`); bag numbers come
from the rehearsal's pretend paper log; every participant agrees at the
close; the holders' PIN is the rehearsal's, handed to the logins in this
process and never put in the environment. The part of a holder who is not
in the room (a key on their own token and a proof of possession) is played
by the script too, with the tokens layer, outside the ceremony's record.

A runbook that needs an earlier state names it in ``before:``; the
rehearsal runs that chain first, skipping what this rehearsal workspace has
already done, and a runbook with ``sites:`` is run once per site, each on
its own copy of the workspace (one laptop per site), the copies sharing
one pretend USB stick.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ceremony import modules, rounds, tokens
from ceremony.errors import BadInput, CeremonyError, CheckFailed
from ceremony.fsutil import write_atomic
from ceremony.rehearsal import (
    REHEARSAL_PIN,
    REHEARSAL_SO_PIN,
    Rehearsal,
    use_private_softhsm,
)
from ceremony.runbooks import engine
from ceremony.runbooks.actions import proof_path
from ceremony.runbooks.engine import (
    ActEndView,
    ActionStep,
    CheckStep,
    EntryStep,
    FinishedView,
    IrregularView,
    PlannedView,
    QuestionStep,
    ResultView,
    Run,
    RunbookRound,
    SigningStep,
    StepView,
    View,
)
from ceremony.runbooks.format import Runbook
from ceremony.runbooks.library import Library
from ceremony.runbooks.template import as_text, render
from ceremony.session import Ceremony
from ceremony.text import visible

NAMES = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Ken")
MAX_HOLDERS = len(NAMES) - 2
WITNESS = "Rehearsal Witness"
OPERATOR = "Rehearsal Operator"
ONLINE_KEYS = ("snapshot", "timestamp", "snapshot-2", "timestamp-2", "pkgs")
"""Online keys the rehearsal's pretend server hands over: public halves in
files/online/NAME.pem, private halves (for the test's server) in files/server/."""

Announce = Callable[[str], None]


class RehearsalSecrets:
    """The rehearsal's fixed PINs, handed to logins in this process only."""

    def pin_source(self) -> tokens.PinSource:
        return lambda _prompt: REHEARSAL_PIN

    def new_pins(self, label: str) -> tuple[str, str]:
        return REHEARSAL_SO_PIN, REHEARSAL_PIN


@dataclass(frozen=True)
class Cast:
    """The people and files of one runbook rehearsal: N holders, threshold T."""

    plan: Rehearsal
    holders: int
    threshold: int

    @property
    def files(self) -> Path:
        return self.plan.workspace.parent / f"{self.plan.workspace.name}-files"

    @property
    def stick(self) -> Path:
        return self.files / "stick"

    @property
    def bag_log(self) -> Path:
        return self.files / "bags.json"

    def site_workspace(self, runbook: Runbook, site: str) -> Path:
        if not runbook.sites or site == runbook.sites[0]:
            return self.plan.workspace
        base = self.plan.workspace
        return base.parent / f"{base.name}-site-{site}"

    def names(self) -> list[str]:
        return list(NAMES[: self.holders])

    def values(self, site: str = "") -> dict[str, Any]:
        """What ``{rehearsal.NAME}`` stands for in a ``rehearse:`` answer."""
        names = self.names()
        first_site = names[: max(1, self.threshold - 1)]
        return {
            "rehearsal.holders": names,
            "rehearsal.threshold": self.threshold,
            "rehearsal.first": names[0],
            "rehearsal.last": names[-1],
            "rehearsal.others": names[:-1],
            "rehearsal.newcomer": NAMES[self.holders],
            "rehearsal.remote": NAMES[self.holders + 1],
            "rehearsal.site": site,
            "rehearsal.site-holders": first_site
            if site in ("", "first")
            else names[len(first_site) :],
            "rehearsal.files": str(self.files),
            "rehearsal.stick": str(self.stick),
        }


def check_numbers(holders: int, threshold: int) -> None:
    if not 2 <= holders <= MAX_HOLDERS:
        raise BadInput(
            f"--holders {holders}: a rehearsal has 2 to {MAX_HOLDERS} holders",
            "choose a number of holders in that range",
        )
    if not 2 <= threshold < holders:
        raise BadInput(
            f"--threshold {threshold} with {holders} holders: a rehearsal needs 2 <= T < N "
            "(a rotation and a revocation remove a holder and must still meet it)",
            f"choose a threshold from 2 to {holders - 1}",
        )


def prepare_files(rehearsal: Cast) -> None:
    """The pretend online server's keys, and the pretend USB stick."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    rehearsal.stick.mkdir(parents=True, exist_ok=True)
    for name in ONLINE_KEYS:
        public = rehearsal.files / "online" / f"{name}.pem"
        if public.exists():
            continue
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomic(rehearsal.files / "server" / f"{name}.key.pem", pem)
        write_atomic(
            public,
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )


# --------------------------------------------------------------------------
# The script


class Script:
    """Answers every view of one run as the people in the room would."""

    def __init__(self, rehearsal: Cast, site: str, announce: Announce) -> None:
        self.rehearsal = rehearsal
        self.site = site
        self.announce = announce
        self.secrets = RehearsalSecrets()
        self._typed: dict[str, str] = {}

    def drive(self, run: Run) -> FinishedView:
        view = run.current()
        while not isinstance(view, FinishedView):
            self.announce(describe(view))
            view = self._answer(run, view)
        self.announce(describe(view))
        return view

    def _answer(self, run: Run, view: View) -> View:
        if isinstance(view, ActEndView):
            return run.confirm(WITNESS)
        if isinstance(view, IrregularView):
            raise CheckFailed(
                f"the rehearsal stopped at step {view.step.step.id}: expected "
                f"{view.expected}; it was {view.actual}",
                view.fix or "read the step's instruction and the runbook",
            )
        if isinstance(view, ResultView):
            self._after(run, view)
            return run.confirm(self._person(run, view.step))
        if isinstance(view, PlannedView):
            return self._perform(run, view.step)
        if isinstance(view, SigningStep):
            return self._sign(run)
        if isinstance(view, ActionStep):
            return run.preview()
        if isinstance(view, CheckStep):
            return run.confirm(self._person(run, view))
        if isinstance(view, QuestionStep | EntryStep):
            return run.answer(self._scripted(run, view), self._person(run, view))
        raise BadInput(f"the rehearsal cannot answer {type(view).__name__}", "report this")

    def _person(self, run: Run, view: StepView) -> str:
        if view.person:
            return view.person
        if view.who == "administrator":
            return run.ceremony.operator or OPERATOR
        if view.who == "witnesses":
            return WITNESS
        holders = run.values.get("holders") or self.rehearsal.names()
        return str(holders[0]) if isinstance(holders, list) and holders else as_text(holders)

    def _scripted(self, run: Run, view: QuestionStep | EntryStep) -> str:
        step = view.step
        if step.rehearse is None:
            if isinstance(view, QuestionStep):
                return view.answers[0]
            raise BadInput(
                f"step {step.id} of {run.runbook.name} has no rehearse: answer",
                f"add 'rehearse: ...' to step {step.id} ({run.runbook.path}:{step.line})",
            )
        values = {**run.values, **self.rehearsal.values(self.site)}
        if step.each and view.person:
            values[step.each[0]] = view.person
        return render(step.rehearse, values)

    # ------------------------------------------------------------ actions

    def _perform(self, run: Run, step: ActionStep) -> View:
        inputs = self._typed = self._inputs(step)
        return run.perform(self.secrets, inputs, by=self._person(run, step))

    def _inputs(self, step: ActionStep) -> dict[str, str]:
        item = str(step.params.get("item", ""))
        if step.action == "bag-seal":
            number = self._new_bag()
            return {"number": number, "again": number}
        if step.action == "bag-open":
            number = self._bags().get(item) or self._new_bag()
            return {"number": number, "logged": number}
        return {i.name: i.choices[0] for i in step.inputs if i.choices}

    def _bags(self) -> dict[str, str]:
        path = self.rehearsal.bag_log
        return json.loads(path.read_text()) if path.exists() else {}

    def _new_bag(self) -> str:
        bags = self._bags()
        counter = int(bags.get("#", "0")) + 1
        write_atomic(self.rehearsal.bag_log, json.dumps({**bags, "#": str(counter)}).encode())
        return f"RB-{counter:05d}"

    def _after(self, run: Run, view: ResultView) -> None:
        """What happens in the room after an action: bags on the shelf, remote proofs."""
        step = view.step
        if not isinstance(step, ActionStep):
            return
        if step.action == "bag-seal":
            item, number = str(step.params["item"]), self._typed["number"]
            write_atomic(
                self.rehearsal.bag_log, json.dumps({**self._bags(), item: number}).encode()
            )
        if step.action == "challenge":
            for owner in as_text(step.params.get("holders")).split(","):
                if owner.strip():
                    self._remote_proof(run.ceremony, owner.strip(), Path(str(step.params["dir"])))

    def _remote_proof(self, ceremony: Ceremony, owner: str, stick: Path) -> None:
        """The absent holder, at home: a key on their own token, and their proof."""
        from ceremony.possession import Challenge

        label = f"rehearsal-home-{owner}"
        pins = self.secrets.pin_source()
        present = {t.label for t in ceremony.tokens() if t.present and t.initialized}
        if label not in present:
            tokens.init_token(
                ceremony.pool.lib,
                ceremony.module_path,
                label=label,
                so_pin=REHEARSAL_SO_PIN,
                user_pin=REHEARSAL_PIN,
            )
        token = ceremony.pool.find(label)
        with tokens.logged_in(token, pins, rw=True) as session:
            if not any(k.label == "root" for k in tokens.list_keys(session)):
                tokens.generate_key(session, tokens.DEFAULT_KEY_TYPE, "root", owner)
        challenge = Challenge.from_file(stick / "challenge.json")
        proof = ceremony.prove_possession(label, "root", owner, challenge, pins)
        write_atomic(proof_path(stick, owner), proof.to_json())

    def _sign(self, run: Run) -> View:
        try:
            round_ = run.signing()
            self._answer_round(round_)
        except CeremonyError as error:
            return run.fail(error)
        return run.finish_signing()

    def _answer_round(self, round_: RunbookRound) -> None:
        step = round_.poll()
        while not isinstance(step, rounds.Done):
            if isinstance(step, rounds.PinRefused | rounds.TokenLost):
                assert step.error is not None
                raise step.error
            if isinstance(step, rounds.PinNeeded):
                step = round_.sign(self.secrets.pin_source())
            elif isinstance(step, rounds.Signed):
                self.announce(f"    signed: {', '.join(visible(h.owner) for h in step.keys)}")
                step = round_.poll()
            else:
                step = round_.skip()


def describe(view: View) -> str:
    """One line of progress for the rehearsal's log."""
    if isinstance(view, StepView):
        who = f"{view.who}: {view.person}" if view.person else view.who
        return f"[{view.act.id}] {view.step.id} ({who}) {view.instruction}"
    if isinstance(view, ResultView):
        return "\n".join(f"    {line}" for line in (f"-> {view.result}", *view.lines))
    if isinstance(view, ActEndView):
        return f"  end of act {view.act.id}: head {' '.join(view.words[:8])} ..."
    if isinstance(view, FinishedView):
        state = "closed" if view.closed else ("stopped" if view.stopped else "ended")
        return f"  record {state}; head hash {view.head}\n  {' '.join(view.words)}"
    if isinstance(view, PlannedView):
        return "\n".join(f"    {line}" for line in view.lines)
    if isinstance(view, IrregularView):
        return f"  IRREGULAR: expected {view.expected}; actual {view.actual}"
    return f"  {type(view).__name__}"


# --------------------------------------------------------------------------
# A chain of runbooks


def _copy_workspace(source: Path, target: Path) -> None:
    """Another laptop with the same repository (the copy appears whole or not at all)."""
    if target.exists():
        return
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    shutil.copytree(source, temporary / "ws", ignore=shutil.ignore_patterns(".ceremony.lock"))
    (temporary / "ws").rename(target)
    temporary.rmdir()


def rehearse(
    library: Library,
    name: str,
    plan: Rehearsal,
    *,
    holders: int = 3,
    threshold: int = 2,
    module: str | None = None,
    operator: str = OPERATOR,
    announce: Announce = print,
) -> list[Path]:
    """Rehearse ``name`` (and what comes before it); returns the workspaces used."""
    check_numbers(holders, threshold)
    target = library.get(name)
    rehearsal = Cast(plan, holders, threshold)
    use_private_softhsm(plan.tokens_dir)
    module = module or str(modules.resolve_module_path(None))
    prepare_files(rehearsal)
    used: list[Path] = []
    for runbook in library.chain(target.name):
        for other in runbook.sites[1:]:  # the other laptops hold the repository as it is now
            _copy_workspace(plan.workspace, rehearsal.site_workspace(runbook, other))
        for site in runbook.sites or ("",):
            workspace = rehearsal.site_workspace(runbook, site)
            used.append(workspace)
            if runbook.name in engine.completed_runs(workspace):
                announce(f"\n== {runbook.name}{f' ({site})' if site else ''}: already done here")
                continue
            announce(f"\n== {runbook.name}{f' at site {site}' if site else ''}: {runbook.title}")
            with Ceremony(workspace, operator=operator, allow_network=True, module=module) as c:
                run = Run.open(c, runbook, witnesses=(WITNESS,))
                Script(rehearsal, site, announce).drive(run)
    return list(dict.fromkeys(used))


def rehearse_before(
    library: Library,
    name: str,
    plan: Rehearsal,
    *,
    holders: int = 3,
    threshold: int = 2,
    module: str | None = None,
    operator: str = OPERATOR,
    announce: Announce = print,
) -> Path:
    """Build the state ``name`` starts from (rehearsing the runbooks before it),
    so people can practise ``name`` itself in the app; returns its workspace."""
    check_numbers(holders, threshold)
    chain = library.chain(library.get(name).name)
    if len(chain) > 1:
        rehearse(
            library,
            chain[-2].name,
            plan,
            holders=holders,
            threshold=threshold,
            module=module,
            operator=operator,
            announce=announce,
        )
    else:
        use_private_softhsm(plan.tokens_dir)
        prepare_files(Cast(plan, holders, threshold))
    return plan.workspace
