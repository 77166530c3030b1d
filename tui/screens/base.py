"""What every screen shares: the status bar, the footer, help and going back."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer

from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from ceremony.session import Ceremony
    from tui.app import CeremonyApp


class BaseScreen(Screen[None]):
    """A screen with the status bar on top and its keys in the footer.

    ``HELP`` says what the screen is for and what comes next; '?' shows it.
    """

    TITLE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    BINDINGS = [  # noqa: RUF012 -- Textual reads the class attribute
        Binding("escape", "back", "Back"),
    ]

    @property
    def ceremony_app(self) -> CeremonyApp:
        from tui.app import CeremonyApp

        assert isinstance(self.app, CeremonyApp)
        return self.app

    @property
    def ceremony(self) -> Ceremony:
        return self.ceremony_app.ceremony

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="body"):
            yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
