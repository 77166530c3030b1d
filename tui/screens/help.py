"""'?' on any screen: what it is for, what comes next, and its keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.screens.base import BaseScreen

GENERAL = """\
Keys everywhere: ? this help · Esc back · Ctrl+T light or dark theme · Ctrl+Q quit.
Everything works from the keyboard: Tab moves between fields, Enter chooses."""


class HelpScreen(ModalScreen[None]):
    """The help of the screen below, with its keys."""

    BINDINGS = [  # noqa: RUF012 -- Textual reads the class attribute
        Binding("escape,question_mark,q,enter", "dismiss", "Close", key_display="Esc"),
    ]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        title = getattr(self.under, "TITLE", "") or "tuf-ceremony"
        text = getattr(self.under, "HELP", "") if isinstance(self.under, BaseScreen) else ""
        keys = [
            f"  {binding.key_display or binding.key:<10} {binding.description}"
            for binding in self.under.BINDINGS
            if isinstance(binding, Binding) and binding.description
        ]
        with VerticalScroll(id="help-box"):
            yield Static(f"[b]{title}[/b]", classes="title")
            yield Static(text or "This screen has no help yet.")
            if keys:
                yield Static("Keys on this screen:\n" + "\n".join(keys))
            yield Static(GENERAL, classes="dim")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
