"""Start of a ceremony: the laptop's preflight, who is present, the clock to confirm."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from ceremony.airgap import PreflightReport
from ceremony.errors import BadInput
from ceremony.text import visible
from tui.screens.base import BaseScreen

MARKS = {"ok": "ok    ", "warn": "WARN  ", "refuse": "REFUSE"}


class StartScreen(BaseScreen):
    TITLE = "Start the ceremony"
    HELP = """\
Before anything changes, the laptop checks that it is offline (network
interfaces, default routes, radios, swap, entropy, the clock) and the
ceremony record is opened with its title, the operator and the witnesses.
Everyone compares the clock shown here with a watch and ticks the box.
If the network is up the ceremony does not start, unless this is a
rehearsal started with --allow-network: then the override is recorded.
Next: the tokens (2 on the home screen)."""
    BINDINGS = [  # noqa: RUF012
        Binding("ctrl+s", "start", "Start"),
        Binding("f5", "recheck", "Check again"),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Checking that this computer is offline…", id="checks", markup=False)
            yield Static("", id="open-record", markup=False)
            yield Label("Title of this ceremony")
            yield Input(placeholder="e.g. Root key generation 2026", id="title")
            yield Label("Operator (runs the laptop)")
            yield Input(value=self.ceremony.operator or "", id="operator")
            yield Label("Witnesses, separated by commas")
            yield Input(placeholder="e.g. Wanda Witness, Walter Witness", id="witnesses")
            yield Static("", id="clock", markup=False)
            yield Checkbox("Everyone compared the clock with a watch", id="clock-ok")
            with Horizontal(classes="buttons"):
                yield Button("Start the ceremony (Ctrl+S)", id="start", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()
        self.action_recheck()
        self._tick()
        self.set_interval(1.0, self._tick)
        info = self.ceremony_app.record
        if info is not None and not info.closed and info.problem is None:
            self.query_one("#open-record", Static).update(
                f"A ceremony record is already open: {visible(info.title)} ({info.records} "
                "records). Go back to continue in it, or close it on the record screen first."
            )

    def _tick(self) -> None:
        now = self.ceremony.now()
        self.query_one("#clock", Static).update(f"The laptop's clock: {now:%Y-%m-%d %H:%M:%S} UTC")

    def action_recheck(self) -> None:
        self.ceremony_app.run_core(self.ceremony.check_air_gap, self._show_checks)

    def _show_checks(self, report: PreflightReport) -> None:
        self.ceremony_app.preflight = report
        lines = [f"{MARKS.get(c.status, c.status)} {c.name:<10} {c.message}" for c in report.checks]
        if report.network_up:
            allowed = self.ceremony.allow_network
            lines.append(
                "The network is UP: "
                + (
                    "going on is allowed for this rehearsal and is recorded."
                    if allowed
                    else "the ceremony cannot start until it is down."
                )
            )
        self.query_one("#checks", Static).update("\n".join(visible(line) for line in lines))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    def action_start(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        operator = self.query_one("#operator", Input).value.strip()
        witnesses = [
            w.strip() for w in self.query_one("#witnesses", Input).value.split(",") if w.strip()
        ]
        if not self.query_one("#clock-ok", Checkbox).value:
            self.ceremony_app.show_error(
                BadInput(
                    "the clock has not been confirmed",
                    "compare the clock shown with a watch, then tick the box",
                )
            )
            return
        if not title:
            self.ceremony_app.show_error(
                BadInput("the ceremony needs a title", "type what this ceremony is for")
            )
            return
        self.ceremony.operator = operator or None
        self.ceremony_app.run_core(lambda: self.ceremony.start(title, witnesses), self._started)

    def _started(self, _transcript: object) -> None:
        self.app.notify("Ceremony started: the record is open.")
        self.app.pop_screen()
