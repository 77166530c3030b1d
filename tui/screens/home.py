"""The first screen: what is staged, what comes next, and where to go."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ceremony.text import visible
from tui.screens.base import BaseScreen

MENU = (
    ("start", "1", "Start the ceremony: preflight, record, witnesses"),
    ("tokens", "2", "Tokens: insert, initialise, generate and export keys"),
    ("roles", "3", "Roles and signatures: what is published, who must sign"),
    ("propose", "4", "Propose a change: root, rotation, delegation, expiry"),
    ("sign", "5", "Review and sign a staged role"),
    ("transfer", "6", "Export to a USB stick or QR; import a bundle"),
    ("record", "7", "The ceremony record (transcript)"),
    ("runbooks", "8", "Runbooks: guided ceremonies step by step"),
)


class HomeScreen(BaseScreen):
    TITLE = "Ceremony"
    HELP = """\
The ceremony's home. The list below shows what is staged and waiting for
signatures, and what comes next. Choose a task with the arrow keys and
Enter, or press its number. A typical ceremony: 1 start the record, 2 check
the tokens (and make keys), 4 propose the new root, 5 each holder reviews and
signs with their token, 3 publish, 6 export to the USB stick, 7 close."""
    BINDINGS = [  # noqa: RUF012
        *(Binding(key, f"open('{name}')", show=False) for name, key, _ in MENU),
        Binding("r", "refresh", "Refresh"),
    ]

    def body(self) -> ComposeResult:
        yield Static("", id="next")
        yield OptionList(
            *(Option(f"{key}  {text}", id=name) for name, key, text in MENU),
            id="menu",
            markup=False,
        )

    def on_mount(self) -> None:
        self.query_one("#menu", OptionList).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.ceremony_app.run_core(self.ceremony.status, self._show_next, quiet=True)

    def _show_next(self, states: list) -> None:
        hint = self.ceremony_app.hint
        lines = [hint] if hint else []
        for state in states:
            progress = "; ".join(f"{len(r.signed)} of {r.threshold}" for r in state.requirements)
            verdict = "ready to publish" if state.complete else "needs signatures"
            lines.append(f"Staged: {visible(state.role)} v{state.version}: {verdict} ({progress})")
        if not states:
            lines.append("Nothing is staged. Propose a change (4) or look at the roles (3).")
        elif all(s.complete for s in states):
            lines.append("Next: publish (3), then export (6).")
        else:
            lines.append("Next: each holder reviews and signs (5).")
        self.query_one("#next", Static).update("\n".join(lines))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.action_open(event.option.id)

    def action_open(self, name: str) -> None:
        from tui.screens import navigate

        navigate(self.app, name)
