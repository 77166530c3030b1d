"""Review: the change in words, the raw JSON on request, the hash in hex and as words.

A holder signs bytes, not intentions. This screen shows what the engine
says the proposal changes, and the SHA-256 of the exact bytes the token
will sign, as hex and as words the witnesses read aloud. Confirming here
records that the review was shown; only then can this payload be signed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ceremony.review import Review
from ceremony.text import visible
from tui.screens.base import BaseScreen


class ReviewScreen(BaseScreen):
    TITLE = "Review"
    HELP = """\
Read what this proposal changes: keys added or removed by their holders'
names, thresholds before and after, delegations, expiry. The raw JSON that
will be signed is one key away (r). At the bottom is the fingerprint of the
exact bytes your token will sign: read the words aloud; the witnesses
compare them with their own copy. When everyone agrees, confirm (c): then
insert your token, confirm it is yours, and type your PIN."""
    BINDINGS = [  # noqa: RUF012
        Binding("c", "confirm", "Confirm and sign"),
        Binding("r", "raw", "Raw JSON"),
    ]

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role
        self.review: Review | None = None
        self.showing_raw = False

    def body(self) -> ComposeResult:
        with VerticalScroll(id="review-scroll"):
            yield Static("Reading the proposal…", id="review", markup=False)
        yield Static("", id="fingerprint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#review-scroll").focus()
        self.ceremony_app.run_core(lambda: self.ceremony.review(self.role), self._show)

    def _show(self, review: Review) -> None:
        self.review = review
        self._show_review()
        words = review.words
        groups = "  ".join(" ".join(words[i : i + 4]) for i in range(0, 16, 4))
        self.query_one("#fingerprint", Static).update(
            f"SHA-256 {review.payload_sha256[:32]}…\nRead aloud: {groups} …\n"
            f"Short fingerprint: {review.fingerprint}"
        )

    def _show_review(self) -> None:
        assert self.review is not None
        raw = self.showing_raw
        text = visible(self.review.raw) if raw else "\n".join(self.review.lines())
        self.query_one("#review", Static).update(text)

    def action_raw(self) -> None:
        if self.review is not None:
            self.showing_raw = not self.showing_raw
            self._show_review()

    def action_confirm(self) -> None:
        from tui.screens.sign import SignScreen

        review = self.review
        if review is None:
            return
        self.ceremony_app.run_core(
            lambda: self.ceremony.confirm_review(review),
            lambda _none: self.app.switch_screen(SignScreen(self.role)),
        )
