"""The signing round, holder by holder: insert, confirm, PIN, remove.

The engine's round decides; this screen only shows its step and answers
it. While the round waits for a token it looks again every second, so a
token inserted shows without a key press. The token is checked (its public
keys against the holder's) before a PIN is asked for. The PIN field is
cleared the moment its value is handed to the login.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Checkbox, Input, Static

from ceremony import rounds
from ceremony.errors import BadInput
from ceremony.signing import RoleStatus
from ceremony.text import visible
from tui.screens.base import BaseScreen
from tui.screens.roles import progress_lines

WAITING = (rounds.WaitForToken, rounds.WrongToken, rounds.TokenLost)
"""Steps that change by themselves when a token is inserted: looked at every second."""
ASKING = (rounds.WaitForToken, rounds.WrongToken, rounds.PinNeeded)
"""Steps beside which the reason the last try signed nothing is still shown."""


class SignScreen(BaseScreen):
    TITLE = "Sign"
    HELP = """\
Each holder in turn: insert your token when your name is shown. The screen
checks that the token holds your key before it asks for anything. Then type
your PIN (it is not shown) and press Enter. When it says so, remove your
token. If the token reports one PIN try left, you must tick the box to use
it. A token pulled out, or a wrong PIN, is shown here and nothing is lost:
insert the token again or type the PIN again. Skip a holder who is not
here with s. When the thresholds are met, publish from the roles screen."""
    BINDINGS = [  # noqa: RUF012
        Binding("ctrl+s", "skip", "Skip this holder"),
        Binding("n", "poll", "Next holder"),
        Binding("p", "publish", "Publish"),
        Binding("f5", "poll", "Look again"),
    ]

    def __init__(
        self,
        role: str,
        round_: Any = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        """``round_`` is a round made elsewhere (a runbook's sign step), with the
        same moves as the engine's; ``on_done`` is told when it is Done."""
        super().__init__()
        self.role = role
        self.round: Any = round_
        self.on_done = on_done
        self.busy = False
        self.lost: str | None = None
        """Why the last attempt signed nothing: kept on screen, through the next PIN
        prompt, until a signature, another refusal or a skip takes its place."""

    def body(self) -> ComposeResult:
        yield Static("", id="progress", markup=False)
        yield Static("Preparing the signing round…", id="instruction", markup=False)
        yield Checkbox("I am sure of the PIN: use the final try", id="final-try")
        yield Input(password=True, placeholder="PIN (not shown)", id="pin")
        yield Static("", id="log", markup=False)

    def on_mount(self) -> None:
        self.query_one("#pin", Input).display = False
        self.query_one("#final-try", Checkbox).display = False
        self.set_interval(1.0, self._tick)
        if self.round is not None:
            self.action_poll()
            return
        self.busy = True
        self.ceremony_app.run_core(
            lambda: self.ceremony.signing_round(self.role), self._started, failed=self._failed
        )

    def _started(self, round_: rounds.SigningRound) -> None:
        self.round = round_
        self.busy = False
        self.action_poll()

    def _failed(self, error: object) -> None:
        self.busy = False
        from ceremony.errors import CeremonyError

        if isinstance(error, CeremonyError):
            self.ceremony_app.show_error(error)

    def _tick(self) -> None:
        """While waiting for a token, look again every second (no key press needed)."""
        if self.round is None or self.busy:
            return
        if isinstance(self.round.step, WAITING) or type(self.round.step) is rounds.Step:
            self.action_poll()

    def action_poll(self) -> None:
        round_ = self.round
        if round_ is None or self.busy:
            return
        self.busy = True
        self.ceremony_app.run_core(round_.poll, self._show, failed=self._failed)

    def action_skip(self) -> None:
        round_ = self.round
        if round_ is None or self.busy:
            return
        self.busy = True
        self.lost = None
        self.ceremony_app.run_core(round_.skip, self._show, failed=self._failed)

    # --------------------------------------------------------------- steps

    def _show(self, step: rounds.Step) -> None:
        self.busy = False
        pin = self.query_one("#pin", Input)
        final = self.query_one("#final-try", Checkbox)
        needs_pin = isinstance(step, rounds.PinNeeded)
        pin.display = isinstance(step, rounds.PinNeeded) and not step.pin_pad
        final.display = isinstance(step, rounds.PinNeeded) and step.final_try
        final.value = False
        if isinstance(step, rounds.TokenLost) and step.error is not None:
            self.lost = visible(step.error.problem)
        elif isinstance(step, rounds.PinRefused | rounds.TokenLocked | rounds.Signed | rounds.Done):
            self.lost = None
        words = self._words(step)
        if self.lost and isinstance(step, ASKING):
            words = f"Nothing was signed: {self.lost}\n{words}"
        instruction = self.query_one("#instruction", Static)
        instruction.set_classes(_css_class(step))
        instruction.update(words)
        if needs_pin:
            pin.focus()
        self._progress()
        if isinstance(step, rounds.Done) and self.on_done is not None:
            done, self.on_done = self.on_done, None
            done()

    def _words(self, step: rounds.Step) -> str:
        holder = step.holder
        name = visible(holder.owner) if holder is not None else "the holder"
        where = holder.token_name() if holder is not None else ""
        if isinstance(step, rounds.Done):
            if step.complete:
                return (
                    f"Every threshold of {visible(self.role)} is met. Remove the last token.\n"
                    "Next: publish it (p)."
                )
            return "Nobody else who is here can sign. The thresholds are NOT met yet."
        if isinstance(step, rounds.Signed):
            owners = ", ".join(visible(h.owner) for h in step.keys)
            then = (
                f"Every threshold of {visible(self.role)} is met. "
                + ("Next: publish it (p)." if self.on_done is None else "Press n to go on.")
                if step.complete
                else "Then press n for the next holder."
            )
            return (
                f"Signed and verified for {owners}, and saved.\n"
                f"{name}: REMOVE YOUR TOKEN now.\n{then}"
            )
        if isinstance(step, rounds.PinRefused):
            state = ", ".join(step.token.pin_state) if step.token else "unknown"
            problem = visible(step.error.problem) if step.error else "the PIN was refused"
            reports = "" if state in problem else f"\nThe token now reports: {state}."
            return f"{problem}{reports}\nType the PIN again, or skip this holder (Ctrl+S)."
        if isinstance(step, rounds.PinNeeded):
            assert step.token is not None
            state = ", ".join(step.token.pin_state)
            lines = [
                f"This is the token of {name}: {visible(step.token.name())}.",
                f"PIN state: {state}.",
            ]
            if step.pin_pad:
                lines.append("Type the PIN on the reader's PIN pad, then press Enter here.")
            else:
                lines.append(f"{name}, type your PIN and press Enter.")
            if step.final_try:
                lines.append("WARNING: ONE PIN TRY LEFT. A wrong PIN locks the token.")
            return "\n".join(lines)
        if isinstance(step, rounds.WrongToken):
            token = visible(step.token.name()) if step.token else "the token present"
            whose = (
                f" (it holds the key of {', '.join(visible(h) for h in step.holds)})"
                if step.holds
                else ""
            )
            return (
                f"The token in the reader, {token}{whose}, does not hold the key of {name}.\n"
                f"Remove it and insert the token of {name} ({where})."
            )
        if isinstance(step, rounds.TokenLocked):
            return (
                f"The PIN of {name}'s token is LOCKED: it cannot sign. Skip this holder (Ctrl+S)."
            )
        if isinstance(step, rounds.TokenLost):
            problem = visible(step.error.problem) if step.error else "the token was lost"
            return f"{problem}\nNothing was signed. Insert the token of {name} again."
        if isinstance(step, rounds.WaitForToken):
            return f"Insert the token of {name} ({where})."
        return "Looking at the tokens…"

    def _progress(self) -> None:
        def show(states: list[RoleStatus]) -> None:
            for state in states:
                if state.role == self.role:
                    self.query_one("#progress", Static).update("\n".join(progress_lines(state)))

        self.ceremony_app.run_core(self.ceremony.status, show, quiet=True)

    def action_publish(self) -> None:
        from tui.screens.roles import publish

        step = self.round.step if self.round is not None else None
        complete = isinstance(step, rounds.Done | rounds.Signed) and step.complete
        if complete and self.on_done is None:
            publish(self, self.role, self.app.pop_screen)

    # ----------------------------------------------------------------- PIN

    def on_input_submitted(self, event: Input.Submitted) -> None:
        round_ = self.round
        step = round_.step if round_ is not None else None
        if round_ is None or self.busy or not isinstance(step, rounds.PinNeeded):
            return
        pin = event.input.value
        event.input.value = ""  # the PIN leaves the widget before anything else happens
        final_try = self.query_one("#final-try", Checkbox).value
        if step.final_try and not final_try:
            self.ceremony_app.show_error(
                BadInput(
                    "the token has one PIN try left and the box is not ticked",
                    "make sure of the PIN, tick the box, and type it again",
                )
            )
            return
        if not pin and not step.pin_pad:
            return
        self.busy = True
        self.query_one("#instruction", Static).update(
            "Signing… do not remove the token until it says so."
        )
        self.ceremony_app.run_core(
            lambda: round_.sign(lambda _prompt: pin, final_try=final_try),
            self._show,
            failed=self._failed,
        )


def _css_class(step: rounds.Step) -> str:
    if isinstance(step, rounds.Signed) or (isinstance(step, rounds.Done) and step.complete):
        return "ok"
    if isinstance(step, rounds.PinRefused | rounds.TokenLost | rounds.TokenLocked):
        return "warning"
    if isinstance(step, rounds.WrongToken):
        return "warning"
    return "instruction"
