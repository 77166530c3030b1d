"""Small dialogs: an error in words, a yes/no question, a PIN asked for without echo."""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ceremony.errors import CeremonyError
from ceremony.text import visible, visible_lines

ResultT = TypeVar("ResultT")


class NoticeDialog(ModalScreen[None]):
    """Something to read, closed with its OK button, Enter or Escape; the
    subclass composes it, with a Button of id "ok"."""

    BINDINGS = [Binding("escape,enter", "close", "OK")]  # noqa: RUF012

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class FormDialog(ModalScreen[ResultT]):
    """A small form: its OK button (id "ok"), or Enter in a field where
    ``SUBMIT_ON_ENTER``, hands the values over (``_submit``); Escape or the
    other button closes it with nothing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012
    SUBMIT_ON_ENTER = True

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        if self.SUBMIT_ON_ENTER:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.action_cancel()

    def _submit(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)


class ErrorDialog(NoticeDialog):
    """What went wrong and what to do; the app keeps running."""

    def __init__(self, error: CeremonyError) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error"):
            yield Static("[b]Something needs attention[/b]", classes="title")
            yield Static(visible_lines(self.error.problem), id="problem", markup=False)
            yield Static("What to do: " + visible(self.error.fix), id="fix", markup=False)
            yield Button("OK", id="ok", variant="primary")


class ConfirmDialog(ModalScreen[bool]):
    """A question with an explicit yes; anything else is no."""

    BINDINGS = [  # noqa: RUF012
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, classes="title", markup=False)
            if self.detail:
                yield Static(self.detail, markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class PinDialog(ModalScreen[str | None]):
    """A masked PIN field; the PIN leaves the widget the moment it is handed over."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012

    def __init__(self, title: str, state: str = "", *, twice: bool = False) -> None:
        super().__init__()
        self.heading = title
        self.state = state
        self.twice = twice

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.heading, classes="title", markup=False)
            if self.state:
                yield Static(self.state, markup=False)
            yield Input(password=True, placeholder="PIN (not shown)", id="pin")
            if self.twice:
                yield Input(password=True, placeholder="the same PIN again", id="again")
            yield Static("", id="pin-problem", classes="warning")

    def on_mount(self) -> None:
        self.query_one("#pin", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        first = self.query_one("#pin", Input)
        if self.twice and event.input.id == "pin":
            self.query_one("#again", Input).focus()
            return
        pin = first.value
        again = self.query_one("#again", Input).value if self.twice else pin
        first.value = ""
        if self.twice:
            self.query_one("#again", Input).value = ""
        if not pin:
            self.query_one("#pin-problem", Static).update("No PIN was typed.")
            first.focus()
            return
        if pin != again:
            self.query_one("#pin-problem", Static).update("The two PINs typed differ.")
            first.focus()
            return
        self.dismiss(pin)

    def action_cancel(self) -> None:
        self.query_one("#pin", Input).value = ""
        self.dismiss(None)
