"""Runbooks in the app: the step list with progress, the current instruction,
the action's result, and a confirmation to go on.

The runbook engine decides what comes next and records every step; this
screen shows each of its views and answers it. Actions run off the event
loop; when one needs a PIN, the holder is asked in a masked dialog from
there, and the PIN goes straight to the login.
"""

from __future__ import annotations

import threading
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from ceremony.errors import CeremonyError, InputEnded
from ceremony.runbooks import engine
from ceremony.text import visible
from tui.screens.base import BaseScreen
from tui.screens.dialogs import PinDialog
from tui.widgets.plain import plain

MARKS = {"done": "[x]", "now": "[>]", "skipped": "[s]", "nobody": "[-]", "not done": "[ ]"}


class RunbooksScreen(BaseScreen):
    TITLE = "Runbooks"
    HELP = """\
A runbook is the written procedure of a ceremony, and the tool walks it step
by step: who acts, what to say and check, what the tool does; every step is
recorded. Choose one to run it; a run that was interrupted goes on at the
step after the last one recorded."""

    def body(self) -> ComposeResult:
        yield Static("Choose a runbook:", classes="dim")
        yield OptionList(id="runbooks", markup=False)

    def on_mount(self) -> None:
        self.query_one("#runbooks", OptionList).focus()
        self.ceremony_app.run_core(self._library, self._show)

    def _library(self) -> Any:
        from ceremony.runbooks.library import Library

        workspace = self.ceremony.path if self.ceremony.is_workspace else None
        return Library.load(workspace)

    def _show(self, library: Any) -> None:
        self.library = library
        options = self.query_one("#runbooks", OptionList)
        for name in library.names():
            runbook = library.get(name)
            options.add_option(Option(f"{visible(name)}: {visible(runbook.title)}", id=name))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.app.push_screen(RunbookScreen(self.library.get(event.option.id)))


class AppSecrets:
    """PINs typed by the holder in the app, asked from the worker that logs in."""

    def __init__(self, screen: RunbookScreen) -> None:
        self.screen = screen

    def _ask(self, title: str, twice: bool = False) -> str:
        answer: dict[str, str | None] = {}
        done = threading.Event()

        def show() -> None:
            def got(pin: str | None) -> None:
                answer["pin"] = pin
                done.set()

            self.screen.app.push_screen(PinDialog(title, twice=twice), got)

        self.screen.app.call_from_thread(show)
        done.wait()
        pin = answer.get("pin")
        if not pin:
            raise InputEnded("no PIN was typed", "repeat the step and type the PIN")
        return pin

    def pin_source(self) -> Any:
        return lambda prompt: self._ask(prompt)

    def new_pins(self, label: str) -> tuple[str, str]:
        so_pin = self._ask(f"New security officer PIN for token {label} (twice)", twice=True)
        user_pin = self._ask(f"New user PIN for token {label} (twice)", twice=True)
        return so_pin, user_pin


class RunbookScreen(BaseScreen):
    TITLE = "Runbook"
    HELP = """\
Left: every step and where the run is ([x] done, [>] now, [s] skipped,
[-] nobody to do it for). Right: the
instruction to read aloud, who acts, and what to answer. Enter confirms or
goes on; a check not confirmed (n) is recorded as an exception, with who
decided. At each act's end the record's head hash is shown as words for the
witnesses to write down."""
    BINDINGS = [  # noqa: RUF012
        Binding("enter", "go", "Go on", show=True),
        Binding("n", "deny", "Not confirmed"),
        Binding("s", "skip_step", "Skip (SHOULD only)"),
    ]

    def __init__(self, runbook: Any, witnesses: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.runbook = runbook
        self.witnesses = witnesses
        self.run: Any = None
        self.view: Any = None
        self.busy = False

    def body(self) -> ComposeResult:
        with Horizontal():
            with VerticalScroll(id="steps"):
                yield Static("", id="steps-text", markup=False)
            with Vertical(id="step-pane"):
                with VerticalScroll():
                    yield Static("Opening the runbook…", id="step-text", markup=False)
                yield Input(id="step-input")
                yield Vertical(id="inputs")
                yield Horizontal(id="choices", classes="buttons")

    def on_mount(self) -> None:
        self.query_one("#step-input", Input).display = False
        self._call(
            lambda: engine.Run.open(self.ceremony, self.runbook, self.witnesses), self._opened
        )

    def _call(self, work: Any, done: Any) -> None:
        self.busy = True

        def finished(result: Any) -> None:
            self.busy = False
            done(result)

        def failed(error: CeremonyError) -> None:
            self.busy = False
            if self.run is not None:
                self._call(lambda: self.run.fail(error), self._show)
            else:
                self.ceremony_app.show_error(error)

        self.ceremony_app.run_core(work, finished, failed=failed)

    def _opened(self, run: Any) -> None:
        self.run = run
        self._show(run.current())

    def by(self) -> str:
        person = getattr(self.view, "person", None)
        return str(person or self.ceremony.operator or getattr(self.view, "who", "operator"))

    # -------------------------------------------------------------- views

    def _show(self, view: Any) -> None:
        self.view = view
        self._progress()
        text = self.query_one("#step-text", Static)
        field = self.query_one("#step-input", Input)
        choices = self.query_one("#choices", Horizontal)
        choices.remove_children()
        inputs = self.query_one("#inputs", Vertical)
        inputs.remove_children()
        field.display = False
        text.update(self._words(view))
        if isinstance(view, engine.EntryStep):
            field.display = True
            field.value = ""
            field.focus()
        elif isinstance(view, engine.QuestionStep):
            for answer in view.answers:
                choices.mount(Button(plain(answer), name=answer))
        elif isinstance(view, engine.IrregularView):
            for decision in view.decisions:
                choices.mount(Button(plain(decision), name=decision))
        elif isinstance(view, engine.PlannedView) and view.step.inputs:
            for wanted in view.step.inputs:
                inputs.mount(Static(visible(wanted.prompt), markup=False))
                inputs.mount(Input(name=wanted.name, classes="action-input"))
            self.call_after_refresh(lambda: self.query(".action-input").first().focus())
            return
        if not field.display:
            self.set_focus(None)  # Enter and the step's keys go to the screen

    def _words(self, view: Any) -> str:
        if isinstance(view, engine.StepView):
            head = (
                f"Step {view.number} of {view.total}: {visible(view.step.id)} ({view.level}), "
                f"act {visible(view.act.title)}\nWho: {visible(view.who)}"
                + (f" ({visible(view.person)})" if view.person else "")
            )
            body = f"{visible(view.instruction)}\n\n{visible(view.text)}"
            hint = {
                engine.CheckStep: "Enter: confirmed.  n: NOT confirmed.",
                engine.QuestionStep: "Choose the answer.",
                engine.EntryStep: "Type the answer and press Enter.",
                engine.SigningStep: "Enter: start the signing round.",
                engine.ActionStep: "Enter: show what the tool will do.",
            }
            kind = next((h for k, h in hint.items() if isinstance(view, k)), "")
            return f"{head}\n\n{body}\n\n{kind}"
        if isinstance(view, engine.PlannedView):
            lines = "\n".join(visible(line) for line in view.lines)
            return f"The tool will now:\n{lines}\n\nEnter: do it."
        if isinstance(view, engine.ResultView):
            lines = "\n".join(visible(line) for line in view.lines)
            return f"Done: {visible(view.result)}\n{lines}\n\nEnter: confirm and go on."
        if isinstance(view, engine.IrregularView):
            return (
                f"NOT AS THE RUNBOOK SAYS.\nExpected: {visible(view.expected)}\n"
                f"Happened: {visible(view.actual)}\n{visible(view.fix)}\n\n"
                "Decide: retry, go on (recorded as an exception), or stop."
            )
        if isinstance(view, engine.ActEndView):
            words = " ".join(view.words)
            return (
                f"End of act {visible(view.act.title)}.\nRecord head: {view.head}\n"
                f"Witnesses, write down: {words}\n\nEnter: written down."
            )
        if isinstance(view, engine.FinishedView):
            state = "stopped" if view.stopped else "finished"
            words = " ".join(view.words)
            return f"The runbook has {state}.\nFinal head: {view.head}\n{words}"
        return "…"

    def _progress(self) -> None:
        if self.run is None:
            return
        lines = [
            f"{MARKS.get(state.state, '[ ]')} {visible(state.step.id)}"
            for state in self.run.progress()
        ]
        self.query_one("#steps-text", Static).update("\n".join(lines))

    # ------------------------------------------------------------ answers

    def action_go(self) -> None:
        view, run = self.view, self.run
        if run is None or self.busy:
            return
        if isinstance(view, engine.SigningStep):
            self._sign()
        elif isinstance(view, engine.ActionStep):
            self._call(run.preview, self._show)
        elif isinstance(view, engine.PlannedView):
            secrets = AppSecrets(self)
            typed = {
                field.name or "": field.value
                for field in self.query(".action-input").results(Input)
            }
            by = self.by()
            self._call(lambda: run.perform(secrets, typed, by), self._show)
        elif isinstance(view, engine.CheckStep | engine.ResultView | engine.ActEndView):
            by = self.by()
            self._call(lambda: run.confirm(by), self._show)
        elif isinstance(view, engine.FinishedView):
            self.app.pop_screen()

    def action_deny(self) -> None:
        if isinstance(self.view, engine.CheckStep) and not self.busy:
            by = self.by()
            self._call(lambda: self.run.confirm(by, confirmed=False), self._show)

    def action_skip_step(self) -> None:
        if isinstance(self.view, engine.StepView) and not self.view.mandatory and not self.busy:
            by = self.by()
            self._call(lambda: self.run.skip(by), self._show)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(self.view, engine.PlannedView):
            self.action_go()
            return
        if isinstance(self.view, engine.EntryStep) and not self.busy:
            value, by = event.input.value, self.by()
            self._call(lambda: self.run.answer(value, by), self._show)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        name, by = event.button.name or "", self.by()
        if isinstance(self.view, engine.QuestionStep):
            self._call(lambda: self.run.answer(name, by), self._show)
        elif isinstance(self.view, engine.IrregularView):
            self._call(lambda: self.run.decide(name, by), self._show)

    def _sign(self) -> None:
        from tui.screens.sign import SignScreen

        view = self.view

        def opened(round_: Any) -> None:
            def finished() -> None:
                self.app.pop_screen()
                self._call(self.run.finish_signing, self._show)

            self.app.push_screen(SignScreen(view.role, round_, on_done=finished))

        self._call(self.run.signing, opened)
