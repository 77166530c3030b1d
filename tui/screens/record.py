"""The ceremony record: every step so far, whether its chain holds, and closing it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ceremony.text import visible
from ceremony.words import to_words
from tui.screens.base import BaseScreen
from tui.screens.dialogs import ConfirmDialog


class RecordScreen(BaseScreen):
    TITLE = "The ceremony record"
    HELP = """\
The transcript of this ceremony: every step, who did it, the hashes of what
was signed. Each entry carries the hash of the one before, so any change
shows; the line at the top says whether the chain holds. At the end, close
the ceremony (c): the final hash is shown as words for the witnesses to
write down, which proves later that nothing was changed or cut off."""
    BINDINGS = [  # noqa: RUF012
        Binding("v", "refresh", "Verify again"),
        Binding("c", "close_record", "Close the ceremony"),
    ]

    def body(self) -> ComposeResult:
        yield Static("", id="chain", markup=False)
        with VerticalScroll(id="record-scroll"):
            yield Static("Reading the record…", id="record-text", markup=False)

    def on_mount(self) -> None:
        self.query_one("#record-scroll").focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        self.ceremony_app.refresh_record()
        info = self.ceremony_app.record
        chain = self.query_one("#chain", Static)
        if info is None:
            chain.update("No ceremony record yet: start one (1 on the home screen).")
        elif info.problem:
            chain.set_classes("warning")
            chain.update(f"BROKEN: {visible(info.problem)}")
        else:
            state = "closed" if info.closed else "open"
            chain.set_classes("ok")
            chain.update(f"Chain verified: {info.records} records, {state}. File: {info.path.name}")
        self.ceremony_app.run_core(
            self.ceremony.record_text,
            lambda text: self.query_one("#record-text", Static).update(text),
        )

    def action_close_record(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.ceremony_app.run_core(self.ceremony.close_record, self._shown_closed)

        self.app.push_screen(
            ConfirmDialog(
                "Close the ceremony record?",
                "Nothing can be added to it afterwards. The final hash is shown as words.",
                "Close",
            ),
            answered,
        )

    def _shown_closed(self, head: str) -> None:
        words = to_words(head)
        rows = "\n".join(" ".join(words[i : i + 8]) for i in range(0, len(words), 8))
        self.query_one("#chain", Static).update(
            f"Ceremony closed. Final hash {head}\nWitnesses, write these words down:\n{rows}"
        )
        self.action_refresh_text_only()

    def action_refresh_text_only(self) -> None:
        self.ceremony_app.refresh_record()
        self.ceremony_app.run_core(
            self.ceremony.record_text,
            lambda text: self.query_one("#record-text", Static).update(text),
        )
