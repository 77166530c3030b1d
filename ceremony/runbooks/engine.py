"""Walking a runbook: one step at a time, each one recorded, resumable anywhere.

A :class:`Run` is a state machine a front end drives: :meth:`Run.current`
says what is happening now, as a value (a :class:`View`), and the front end
answers with one call: :meth:`~Run.confirm`, :meth:`~Run.answer`,
:meth:`~Run.preview` then :meth:`~Run.perform` (which may run in a worker
thread), :meth:`~Run.signing` for a sign step, :meth:`~Run.skip` for a
SHOULD step, :meth:`~Run.decide` after something went wrong. Each call
returns the next view. The engine never blocks for input and never prints.

The transcript is the run's memory. A run writes a ``runbook`` record when
it begins, a ``step`` record when an action begins and when each step is
done (who confirmed, the result, the values it set, and the step to go to
next), an ``act_end`` record when the witnesses have noted the head hash at
the end of an act, and an ``exception`` record for every failed step or
mandatory check not confirmed (expected, actual, decision, who decided).
Opened again after a power cut, a run reads its records back and goes on at
the step after the last one done, in the same transcript; a step whose
action had begun is carried out again, and the action finds in the records
written since whatever it had already done.
"""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ceremony import audit, rounds
from ceremony.errors import BadInput, CeremonyError, WorkspaceError
from ceremony.runbooks import spec
from ceremony.runbooks.actions import ACTIONS, Context, Input, Outcome, Secrets
from ceremony.runbooks.format import END, Act, Runbook, Step
from ceremony.runbooks.template import (
    parse_list,
    parse_names,
    parse_number,
    render,
    render_value,
    resolve,
)
from ceremony.session import Ceremony
from ceremony.text import visible
from ceremony.words import to_words

RETRY, GO_ON, STOP = "retry", "go on", "stop"
DECISIONS = (RETRY, GO_ON, STOP)
STARTED, DONE = "started", "done"


# --------------------------------------------------------------------------
# What a front end shows


@dataclass(frozen=True)
class View:
    """Base of every state of a run."""


@dataclass(frozen=True)
class StepView(View):
    """A step waiting for its person: the instruction, rendered, and who acts.

    ``person`` is the holder (or other item) a repeated step is for;
    ``number`` and ``total`` place the step in the runbook.
    """

    step: Step
    act: Act
    number: int
    total: int
    who: str
    instruction: str
    text: str
    person: str | None = None

    @property
    def mandatory(self) -> bool:
        return self.step.mandatory

    @property
    def level(self) -> str:
        return self.step.level


@dataclass(frozen=True)
class CheckStep(StepView):
    """A manual check: answer with confirm(by, confirmed=True or False)."""


@dataclass(frozen=True)
class QuestionStep(StepView):
    """A question: answer(value, by) with one of ``answers``."""

    answers: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntryStep(StepView):
    """A value to type: answer(value, by); ``type`` is text, names, number or path."""

    type: str = "text"


@dataclass(frozen=True)
class ActionStep(StepView):
    """An action: preview() shows what it will do, perform() does it.

    ``inputs`` are values a person types for it (bag numbers, agreements),
    handed to perform(inputs=...); PINs come from the ``secrets`` object.
    """

    action: str = ""
    summary: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[Input, ...] = ()


@dataclass(frozen=True)
class SigningStep(ActionStep):
    """A sign step: signing() gives the round, finish_signing() ends it."""

    role: str = ""
    holders: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedView(View):
    """What the action will do, for the people to see before it is done."""

    step: ActionStep
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ResultView(View):
    """What the action did; confirm(by) records the step and goes on."""

    step: StepView
    result: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class IrregularView(View):
    """Something did not go as the runbook says: decide(RETRY, GO_ON or STOP, by).

    Going on or stopping writes an exception record with what was
    expected, what happened, the decision and who decided.
    """

    step: StepView
    expected: str
    actual: str
    fix: str = ""
    lines: tuple[str, ...] = ()
    decisions: tuple[str, ...] = DECISIONS


@dataclass(frozen=True)
class ActEndView(View):
    """The end of an act: the witnesses note the head hash; confirm(by) when done."""

    act: Act
    head: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class FinishedView(View):
    """Nothing more to do: the record closed (``closed``), or the run stopped."""

    closed: bool
    stopped: bool
    head: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class StepState:
    """One step in the progress list: done, now, skipped, nobody to do it for, or not (yet)."""

    step: Step
    state: str
    results: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Position:
    step: str
    item: int = 0


# --------------------------------------------------------------------------
# A signing round limited to the holders in the room


class RunbookRound:
    """The guided round of a sign step (same moves and steps as
    :class:`ceremony.rounds.SigningRound`); holders the step does not name are
    skipped for the front end, as not in the room."""

    only_token = None

    def __init__(self, round_: rounds.SigningRound, allowed: tuple[str, ...]) -> None:
        self.round = round_
        self.allowed = set(allowed) if allowed else None
        self.absent: list[rounds.Holder] = []

    @property
    def role(self) -> str:
        return self.round.role

    @property
    def version(self) -> int:
        return self.round.version

    @property
    def digest(self) -> str:
        return self.round.digest

    @property
    def outcome(self) -> rounds.RoundOutcome:
        return self.round.outcome

    def holders(self) -> list[rounds.Holder]:
        return self.round.holders()

    def poll(self) -> rounds.Step:
        return self._present(self.round.poll())

    def skip(self) -> rounds.Step:
        return self._present(self.round.skip())

    def sign(self, pin_source: Any, *, final_try: bool = False) -> rounds.Step:
        return self._present(self.round.sign(pin_source, final_try=final_try))

    def _present(self, step: rounds.Step) -> rounds.Step:
        waiting = (rounds.WaitForToken, rounds.WrongToken, rounds.PinNeeded, rounds.TokenLocked)
        while (
            self.allowed is not None
            and isinstance(step, waiting)
            and step.holder is not None
            and step.holder.owner not in self.allowed
        ):
            self.absent.append(step.holder)
            step = self.round.skip()
        return step


# --------------------------------------------------------------------------
# The run


class Run:
    """One walk through a runbook in one ceremony record (see the module doc)."""

    def __init__(self, ceremony: Ceremony, runbook: Runbook, run_id: str) -> None:
        self.ceremony = ceremony
        self.runbook = runbook
        self.run_id = run_id
        self.values: dict[str, Any] = {}
        self.resumed = False
        self._position: _Position | None = _Position(runbook.steps[0].id)
        self._last_act: str | None = None
        self._act_noted = False
        self._pending_act: str | None = None
        self._view: View | None = None
        self._outcome: Outcome | None = None
        self._scratch: dict[str, Any] = {}
        self._started: _Position | None = None
        self._round: RunbookRound | None = None
        self._done: dict[str, list[str]] = {}
        self._people: list[str] = []
        self._finished: FinishedView | None = None
        self._closes: dict[str, Any] | None = None

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, ceremony: Ceremony, runbook: Runbook, witnesses: tuple[str, ...] = ()) -> Run:
        """Resume this runbook's unfinished run in the open record, or begin one.

        A new run opens a new record when none is open (preflight first,
        as every ceremony does), or goes on in the open one. Refused while
        the open record holds an unfinished run of another runbook.
        """
        transcript = ceremony.reopen(new_workspace=runbook.workspace != "existing")
        if transcript is not None:
            records, _ = audit.read_records(transcript.path)
            unfinished = _unfinished_runs(records)
            mine = [r for r in unfinished if r["runbook"] == runbook.name]
            if mine:
                return cls._resume(ceremony, runbook, mine[-1], records)
            if unfinished:
                other = unfinished[-1]
                raise WorkspaceError(
                    f"the open record holds an unfinished run of runbook "
                    f"{visible(other['runbook'])!r}",
                    f"finish it first (ceremony runbook run {visible(other['runbook'])}), "
                    "or close the record with: ceremony audit close",
                )
            _check_workspace(ceremony, runbook)
        else:
            _check_workspace(ceremony, runbook)
            ceremony.start(runbook.title, witnesses, new_workspace=runbook.workspace != "existing")
        return cls._begin(ceremony, runbook)

    @classmethod
    def _begin(cls, ceremony: Ceremony, runbook: Runbook) -> Run:
        run = cls(ceremony, runbook, _random.token_hex(6))
        run._base_values()
        ceremony.record(
            audit.RUNBOOK,
            ceremony.operator,
            run=run.run_id,
            runbook=runbook.name,
            title=runbook.title,
            sha256=runbook.sha256,
            source=str(runbook.path),
            state="started",
        )
        run._settle()
        return run

    @classmethod
    def _resume(
        cls, ceremony: Ceremony, runbook: Runbook, begun: dict[str, Any], records: list[dict]
    ) -> Run:
        if begun["sha256"] != runbook.sha256:
            raise BadInput(
                f"runbook {visible(runbook.name)!r} changed since this run began "
                f"(it was {begun['sha256'][:12]}, it is {runbook.sha256[:12]} now)",
                f"resume with the runbook as it was ({visible(begun['source'])}), "
                "or close the record with: ceremony audit close",
            )
        run = cls(ceremony, runbook, begun["run"])
        run._base_values()
        run._replay(records)
        run.resumed = True
        at = run._position.step if run._position is not None else END
        ceremony.record(
            audit.RUNBOOK,
            ceremony.operator,
            run=run.run_id,
            runbook=runbook.name,
            state="resumed",
            at=at,
        )
        run._settle()
        return run

    def _base_values(self) -> None:
        transcript = self.ceremony.transcript
        start = audit.read_records(transcript.path)[0][0]["details"] if transcript else {}
        config = self.ceremony.workspace.config if self.ceremony.is_workspace else None
        self.values.update(
            operator=self.ceremony.operator or "",
            witnesses=list(start.get("witnesses", [])),
            workspace=str(self.ceremony.path),
            repository=config.repository if config else "",
            runbook=self.runbook.name,
            date=datetime.now(UTC).date().isoformat(),
        )

    def _replay(self, records: list[dict[str, Any]]) -> None:
        """The run's state from its own records: values, people, where it stands."""
        for record in records:
            details = record["details"]
            if details.get("run") != self.run_id:
                continue
            if record["event"] == audit.STEP and details.get("state") == DONE:
                self._apply_done(details)
            elif record["event"] == audit.STEP:
                self._started = _Position(details["step"], details.get("index", 0))
            elif record["event"] == audit.ACT_END:
                self._act_noted = True

    def _apply_done(self, details: dict[str, Any]) -> None:
        if details.get("var"):
            self.values[details["var"]] = details.get("answer")
        self.values.update(details.get("outputs") or {})
        self._done.setdefault(details["step"], []).append(details.get("result", ""))
        person = details.get("confirmed_by")
        if person and person not in self._people:
            self._people.append(person)
        self._last_act = self.runbook.step(details["step"]).act
        self._closes = details.get("closes")
        self._act_noted = False
        self._started = None
        nxt = details.get("next")
        self._position = _Position(nxt["step"], nxt.get("item", 0)) if nxt else None

    # ------------------------------------------------------------- views

    def current(self) -> View:
        """What is happening now (writes nothing)."""
        if self._finished is not None:
            return self._finished
        if self._view is not None:
            return self._view
        if self._pending_act is not None:
            return self._act_end_view(self._pending_act)
        assert self._position is not None
        return self._step_view(self._position)

    @property
    def finished(self) -> bool:
        return self._finished is not None

    def progress(self) -> tuple[StepState, ...]:
        """Every step with its state, for a progress list: "now", "done",
        "skipped" (every time it came up), "nobody" (a step for each person
        of a list that turned out empty) or "not done"."""
        now = self._position.step if self._position and not self._finished else None
        states = []
        for step in self.runbook.steps:
            results = tuple(self._done.get(step.id, ()))
            if step.id == now:
                state = "now"
            elif results:
                state = "skipped" if set(results) == {"skipped"} else "done"
            else:
                state = "nobody" if self._nobody_for(step) else "not done"
            states.append(StepState(step, state, results))
        return tuple(states)

    def _nobody_for(self, step: Step) -> bool:
        """A repeated step whose list is known and empty: passed over, not pending."""
        if not step.each or self.values.get(step.each[1]) is None:
            return False
        try:
            return not self._items(step)
        except BadInput:
            return False

    def _values_for(self, step: Step, position: _Position) -> dict[str, Any]:
        values = dict(self.values)
        if step.each:
            items = self._items(step)
            values[step.each[0]] = items[position.item] if position.item < len(items) else ""
        return values

    def _items(self, step: Step) -> list[str]:
        assert step.each is not None
        source = self.values.get(step.each[1])
        return parse_names(source, step.each[1])

    def _step_view(self, position: _Position) -> StepView:
        step = self.runbook.step(position.step)
        values = self._values_for(step, position)
        base: dict[str, Any] = {
            "step": step,
            "act": self.runbook.act(step.act),
            "number": [s.id for s in self.runbook.steps].index(step.id) + 1,
            "total": len(self.runbook.steps),
            "who": step.who,
            "instruction": render(step.say, values),
            "text": render(step.text, values),
            "person": values.get(step.each[0]) if step.each else None,
        }
        if step.kind == "check":
            return CheckStep(**base)
        if step.kind == "ask":
            return QuestionStep(**base, answers=step.answers)
        if step.kind == "enter":
            return EntryStep(**base, type=step.type)
        assert step.action is not None
        action = spec.ACTIONS[step.action]
        ctx = self._context(step, position)
        extra: dict[str, Any] = {
            "action": step.action,
            "summary": action.summary,
            "params": ctx.params,
        }
        if step.action == "sign":
            holders = tuple(ctx.names("holders"))
            return SigningStep(**base, **extra, role=ctx.text("role"), holders=holders)
        return ActionStep(**base, **extra, inputs=ACTIONS[step.action].inputs(ctx))

    def _act_end_view(self, act_id: str) -> ActEndView:
        head = self._head()
        return ActEndView(self.runbook.act(act_id), head, tuple(to_words(head)))

    def _head(self) -> str:
        transcript = self.ceremony.transcript
        assert transcript is not None
        return transcript.head_hash

    def _context(
        self,
        step: Step,
        position: _Position,
        secrets: Secrets | None = None,
        inputs: dict[str, str] | None = None,
        by: str | None = None,
    ) -> Context:
        values = self._values_for(step, position)
        action = spec.ACTIONS[step.action] if step.action else None
        params: dict[str, Any] = {}
        for param in action.params if action else ():
            template = step.params.get(param.name, param.default)
            if template is not None:
                params[param.name] = render_value(template, values)
        resumed = self._started == position
        return Context(
            ceremony=self.ceremony,
            params=params,
            values=values,
            inputs=dict(inputs or {}),
            secrets=secrets,
            since=self._since(position) if resumed else [],
            resumed=resumed,
            scratch=self._scratch,
            participants=self._participants() if step.action == "close" else [],
            by=by,
        )

    def _since(self, position: _Position) -> list[dict[str, Any]]:
        """Records written after this step's action last began."""
        transcript = self.ceremony.transcript
        assert transcript is not None
        records, _ = audit.read_records(transcript.path)
        start = 0
        for index, record in enumerate(records):
            details = record["details"]
            if (
                record["event"] == audit.STEP
                and details.get("run") == self.run_id
                and details.get("step") == position.step
                and details.get("index", 0) == position.item
                and details.get("state") == STARTED
            ):
                start = index + 1
        return records[start:]

    def _participants(self) -> list[str]:
        """Operator, witnesses and everyone who confirmed a step or signed."""
        people = [str(self.values.get("operator") or "")]
        people += [str(w) for w in self.values.get("witnesses", [])]
        people += self._people
        transcript = self.ceremony.transcript
        if transcript is not None:
            records, _ = audit.read_records(transcript.path)
            people += [str(r["actor"]) for r in records if r["event"] == audit.SIGNATURE_MADE]
        return [p for i, p in enumerate(people) if p and p not in people[:i]]

    # ------------------------------------------------------------ moves

    def _expect(self, *kinds: type) -> Any:
        view = self.current()
        if not isinstance(view, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise BadInput(
                f"the run is at {type(view).__name__}, not {wanted}",
                "answer what the screen asks now",
            )
        return view

    def preview(self) -> PlannedView | IrregularView:
        """Work out what the action will do, to show before it is done."""
        view = self._expect(ActionStep)
        assert self._position is not None
        ctx = self._context(view.step, self._position)
        try:
            lines = ACTIONS[view.step.action].preview(ctx)
        except CeremonyError as error:
            return self.fail(error)
        self._view = PlannedView(view, tuple(lines))
        return self._view

    def perform(
        self,
        secrets: Secrets | None = None,
        inputs: dict[str, str] | None = None,
        by: str | None = None,
    ) -> ResultView | IrregularView:
        """Carry out the action (safe in a worker thread: nothing else may run meanwhile)."""
        view = self._expect(ActionStep, PlannedView)
        step_view = view.step if isinstance(view, PlannedView) else view
        if isinstance(step_view, SigningStep):
            raise BadInput("a sign step is carried out by its round", "use signing()")
        assert self._position is not None
        ctx = self._context(step_view.step, self._position, secrets, inputs, by)
        self._record_started()
        try:
            outcome = ACTIONS[str(step_view.step.action)].perform(ctx)
        except CeremonyError as error:
            return self.fail(error)
        return self._outcome_view(step_view, outcome)

    def _outcome_view(self, step_view: StepView, outcome: Outcome) -> ResultView | IrregularView:
        self._outcome = outcome
        if outcome.irregular is not None and outcome.result in self._irregular_results(step_view):
            expected, actual = outcome.irregular
            self._view = IrregularView(step_view, expected, actual, "", tuple(outcome.lines))
            return self._view
        self._view = ResultView(step_view, outcome.result, tuple(outcome.lines))
        return self._view

    @staticmethod
    def _irregular_results(step_view: StepView) -> tuple[str, ...]:
        action = step_view.step.action
        return spec.ACTIONS[action].irregular if action else ()

    def signing(self) -> RunbookRound:
        """The round of a sign step; answer its steps as for ``ceremony sign``, then
        call finish_signing(). An error raised while signing goes to fail()."""
        view = self._expect(SigningStep)
        self._record_started()
        round_ = self.ceremony.signing_round(view.role)
        self._round = RunbookRound(round_, view.holders)
        return self._round

    def finish_signing(self) -> ResultView | IrregularView:
        view = self._expect(SigningStep)
        if self._round is None:
            raise BadInput("the signing round has not begun", "call signing() first")
        outcome = self._round.outcome
        lines = [f"signed: {h.describe()}" for h in outcome.signed]
        lines += [f"already signed: {h.describe()}" for h in outcome.already]
        lines += [f"not in the room: {h.describe()}" for h in self._round.absent]
        lines += [
            f"skipped: {h.describe()}" for h in outcome.skipped if h not in self._round.absent
        ]
        result = (
            "complete" if all(r.met for r in self._round.round.requirements()) else "incomplete"
        )
        if result == "incomplete":
            lines += [f"still needed: {h.describe()}" for h in self._round.holders()]
        details = {"signed": [h.owner for h in outcome.signed], "role": view.role}
        self._round = None
        return self._outcome_view(view, Outcome(result, lines, details=details))

    def fail(self, error: CeremonyError) -> IrregularView:
        """An error in this step (from an action, or raised while signing)."""
        view = self.current()
        step_view = view.step if isinstance(view, PlannedView | ResultView) else view
        if not isinstance(step_view, StepView):
            raise error
        self.ceremony.record_error(error)
        expected = f"{step_view.step.id}: {step_view.instruction}"
        self._outcome = Outcome("failed")
        self._view = IrregularView(step_view, expected, error.problem, error.fix)
        return self._view

    def confirm(self, by: str, confirmed: bool = True) -> View:
        """The person confirms: a check, an action's result, or the end of an act."""
        view = self._expect(CheckStep, ResultView, ActEndView, PlannedView)
        if isinstance(view, ActEndView):
            return self._note_act(view, by)
        if isinstance(view, PlannedView):
            raise BadInput("the action has not been carried out yet", "perform() it first")
        if isinstance(view, ResultView):
            assert self._outcome is not None
            outcome, self._outcome = self._outcome, None
            return self._done_step(view.step, outcome.result, by, outcome=outcome)
        if confirmed:
            return self._done_step(view, "confirmed", by)
        if view.mandatory:
            self._outcome = Outcome("not-confirmed")
            self._view = IrregularView(view, view.text, f"not confirmed by {by}")
            return self._view
        return self._done_step(view, "not-confirmed", by)

    def answer(self, value: str, by: str) -> View:
        """The answer to a question, or a value typed in."""
        view = self._expect(QuestionStep, EntryStep)
        text = " ".join(str(value).split())
        if visible(text) != text:
            raise BadInput("the answer holds characters that cannot be shown", "type it again")
        if isinstance(view, QuestionStep):
            if text.lower() not in view.answers:
                raise BadInput(
                    f"{text!r} is not an answer here", f"answer one of: {', '.join(view.answers)}"
                )
            return self._done_step(view, text.lower(), by, answer=text.lower())
        answer: Any = text
        if view.type == "names":
            answer = parse_names(text, view.text)
        elif view.type == "list":
            answer = parse_list(text, view.text)
        elif view.type == "number":
            answer = parse_number(text, view.text)
        elif not text:
            raise BadInput("nothing was typed", f"type {view.text}")
        return self._done_step(view, "done", by, answer=answer)

    def skip(self, by: str) -> View:
        """Leave out a SHOULD step (recorded as skipped)."""
        view = self._expect(CheckStep, ActionStep, PlannedView)
        step_view = view.step if isinstance(view, PlannedView) else view
        if step_view.mandatory:
            raise BadInput(
                f"step {step_view.step.id} is a MUST: it cannot be skipped",
                "carry it out; if it cannot be done, the failure is recorded as an exception",
            )
        return self._done_step(step_view, "skipped", by)

    def decide(self, decision: str, by: str) -> View:
        """After an irregular result or a failure: try again, go on, or stop here."""
        view = self._expect(IrregularView)
        if decision not in view.decisions:
            raise BadInput(f"{decision!r} is not a decision", f"one of: {', '.join(DECISIONS)}")
        self._view = None
        if decision == RETRY:
            self._outcome = None
            return self.current()
        outcome = self._outcome or Outcome("failed")
        self._outcome = None
        self.ceremony.record(
            audit.EXCEPTION,
            by,
            run=self.run_id,
            step=view.step.step.id,
            item=view.step.person,
            expected=view.expected,
            actual=view.actual,
            decision="went on" if decision == GO_ON else "stopped; the run resumes at this step",
            decided_by=by,
        )
        if decision == STOP:
            head = self._head()
            self._finished = FinishedView(False, True, head, tuple(to_words(head)))
            return self._finished
        return self._done_step(view.step, outcome.result, by, outcome=outcome)

    # ------------------------------------------------------- recording

    def _record_started(self) -> None:
        assert self._position is not None
        if self._started == self._position:
            return
        step = self.runbook.step(self._position.step)
        self.ceremony.record(
            audit.STEP,
            self.ceremony.operator,
            run=self.run_id,
            step=step.id,
            index=self._position.item,
            item=self._step_view(self._position).person,
            action=step.action,
            state=STARTED,
        )
        self._started = self._position

    def _done_step(
        self,
        view: StepView,
        result: str,
        by: str,
        *,
        answer: Any = None,
        outcome: Outcome | None = None,
    ) -> View:
        assert self._position is not None
        step, position = view.step, self._position
        nxt = self._next(step, position, result)
        details: dict[str, Any] = {
            "run": self.run_id,
            "step": step.id,
            "index": position.item,
            "item": view.person,
            "act": step.act,
            "who": step.who,
            "level": step.level,
            "kind": step.kind,
            "action": step.action,
            "state": DONE,
            "result": result,
            "confirmed_by": by,
            "next": {"step": nxt.step, "item": nxt.item} if nxt else None,
        }
        if step.into is not None:
            details["var"] = resolve(step.into, self._values_for(step, position))
            details["answer"] = answer
        elif answer is not None:
            details["answer"] = answer
        if outcome is not None:
            details["outputs"] = outcome.outputs
            details["details"] = outcome.details
            if outcome.closes is not None:
                details["closes"] = outcome.closes
        self.ceremony.record(audit.STEP, by, **details)
        self._view = None
        self._scratch.clear()
        self._apply_done(details)
        self._settle()
        return self.current()

    def _next(self, step: Step, position: _Position, result: str) -> _Position | None:
        if step.each and position.item + 1 < len(self._items(step)):
            return _Position(step.id, position.item + 1)
        return self._after(step, result)

    def _after(self, step: Step, result: str) -> _Position | None:
        """Where the runbook goes once ``step`` is done with ``result``."""
        target = step.forks.get(result) or step.goto or self.runbook.following(step.id)
        if target is None or target == END:
            return None
        return _Position(target)

    def _settle(self) -> None:
        """Pass over repeated steps with nobody to repeat them for; note an act's end."""
        while self._position is not None:
            step = self.runbook.step(self._position.step)
            if not step.each or self._items(step):
                break
            self._position = self._after(step, "done")
        if self._closes is not None:
            self._close()
            return
        next_act = self.runbook.step(self._position.step).act if self._position else None
        if self._last_act is not None and not self._act_noted and next_act != self._last_act:
            self._pending_act = self._last_act
            return
        self._pending_act = None
        if self._position is None:
            self._end()

    def _note_act(self, view: ActEndView, by: str) -> View:
        self.ceremony.record(
            audit.ACT_END,
            by,
            run=self.run_id,
            act=view.act.id,
            title=view.act.title,
            head_sha256=view.head,
            words=" ".join(view.words),
        )
        self._act_noted = True
        self._pending_act = None
        self._settle()
        return self.current()

    def _close(self) -> None:
        """Close the record, as the close step just confirmed said (again, when a
        power cut came between that step's record and the close record)."""
        assert self._closes is not None
        transcript = self.ceremony.transcript
        if transcript is not None and transcript.closed:
            head = transcript.head_hash
        else:
            head = self.ceremony.close_record(
                runbook=self.runbook.name, run=self.run_id, **self._closes
            )
        self._finished = FinishedView(True, False, head, tuple(to_words(head)))

    def _end(self) -> None:
        transcript = self.ceremony.transcript
        assert transcript is not None
        if not transcript.closed:
            self.ceremony.record(
                audit.RUNBOOK,
                self.ceremony.operator,
                run=self.run_id,
                runbook=self.runbook.name,
                state="ended",
            )
        head = transcript.head_hash
        self._finished = FinishedView(transcript.closed, False, head, tuple(to_words(head)))


# --------------------------------------------------------------------------
# Runs in a record, and the state a runbook needs


def _unfinished_runs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``runbook started`` details of runs in these records that did not end."""
    begun: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["event"] != audit.RUNBOOK:
            continue
        details = record["details"]
        if details.get("state") == "started":
            begun[details["run"]] = details
        elif details.get("state") == "ended":
            begun.pop(details.get("run"), None)
    return list(begun.values())


def completed_runs(workspace: Any) -> list[str]:
    """Names of runbooks whose runs closed a record in this workspace, oldest first."""
    from pathlib import Path

    directory = Path(workspace) / audit.TRANSCRIPTS_DIR
    names = []
    for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else []:
        try:
            records, _ = audit.read_records(path)
        except CeremonyError:
            continue
        last = records[-1] if records else None
        if last and last["event"] == audit.CLOSE and last["details"].get("runbook"):
            names.append(str(last["details"]["runbook"]))
        names += [
            str(r["details"]["runbook"])
            for r in records
            if r["event"] == audit.RUNBOOK and r["details"].get("state") == "ended"
        ]
    return names


def _check_workspace(ceremony: Ceremony, runbook: Runbook) -> None:
    """The state a new run of ``runbook`` needs: refused with what to do first."""
    published = ceremony.is_workspace and bool(ceremony.workspace.root_versions())
    if runbook.workspace == "existing" and not published:
        raise WorkspaceError(
            f"runbook {runbook.name} needs a repository whose root is published, and "
            f"{ceremony.path} has none",
            "check --workspace, or begin the repository with the root-key-generation runbook",
        )
    if runbook.workspace == "new" and published:
        raise WorkspaceError(
            f"runbook {runbook.name} begins a repository, and {ceremony.path} already has a "
            "published root",
            "use root-rotation to change it, or give a new folder with --workspace",
        )


def situation(ceremony: Ceremony, runbook: Runbook) -> str:
    """What Run.open would do here, found without writing anything (for --dry-run)."""
    from pathlib import Path

    directory = Path(ceremony.path) / audit.TRANSCRIPTS_DIR
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    for path in reversed(files):
        try:
            records, _ = audit.read_records(path)
        except CeremonyError as error:
            return f"Would be refused: {error.problem}"
        if not records:
            continue
        if records[-1]["event"] == audit.CLOSE:
            break
        unfinished = _unfinished_runs(records)
        mine = [r for r in unfinished if r["runbook"] == runbook.name]
        if mine:
            run = Run(ceremony, runbook, mine[-1]["run"])
            run._replay(records)
            at = run._position.step if run._position else "its end"
            return f"Would resume run {mine[-1]['run']} in {path.name} at step {at}."
        if unfinished:
            return f"Would be refused: {path.name} holds an unfinished run of another runbook."
        return f"Would begin a new run in the open record {path.name}."
    try:
        _check_workspace(ceremony, runbook)
    except WorkspaceError as error:
        return f"Would be refused: {error.problem}"
    return f"Would open a new ceremony record in {ceremony.path} (after the preflight) and begin."
