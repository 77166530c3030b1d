"""The key holders' app: a Textual front end over one :class:`Ceremony`.

The app asks, shows and calls the core; it decides nothing. Every action
is a call into the same session the command line uses, made off the
event loop (a token can take seconds to answer), and every error of ours
is shown in words while the app keeps running. Tokens are watched in a
worker, so an inserted or removed token shows within a second or two
without a key press.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from ceremony.errors import CeremonyError

if TYPE_CHECKING:
    from ceremony.airgap import PreflightReport
    from ceremony.session import Ceremony, RecordInfo
    from ceremony.tokens import TokenInfo

T = TypeVar("T")

POLL_SECONDS = 1.0
DARK, LIGHT = "textual-dark", "textual-light"


class CeremonyApp(App[int]):
    """tuf-ceremony's guided screens."""

    CSS_PATH = "ceremony.tcss"
    TITLE = "tuf-ceremony"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [  # noqa: RUF012 -- Textual reads the class attribute
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("ctrl+q", "quit_app", "Quit", priority=True),
    ]

    tokens: reactive[tuple[TokenInfo, ...]] = reactive(())
    preflight: reactive[PreflightReport | None] = reactive(None)
    record: reactive[RecordInfo | None] = reactive(None)

    def __init__(
        self,
        ceremony: Ceremony,
        *,
        poll_seconds: float = POLL_SECONDS,
        hint: str | None = None,
        watch_tokens: bool = True,
        runbook: Any = None,
    ) -> None:
        """``hint`` is shown on the home screen (a rehearsal's PINs); ``runbook``
        opens that runbook's run at once."""
        super().__init__()
        self.ceremony = ceremony
        self.runbook = runbook
        self.poll_seconds = poll_seconds
        self.hint = hint
        self._watch_tokens = watch_tokens
        self.token_problem: str | None = None
        self.theme = DARK

    # ---------------------------------------------------------------- start

    def on_mount(self) -> None:
        from tui.screens.home import HomeScreen
        from tui.screens.workspace import NotAWorkspaceScreen

        self.refresh_record()
        self.run_core(self.ceremony.check_air_gap, self._set_preflight, quiet=True)
        if self.ceremony.is_workspace or self.runbook is not None:
            self.push_screen(HomeScreen())
        else:
            self.push_screen(NotAWorkspaceScreen())
        if self.runbook is not None:
            from tui.screens.runbook import RunbookScreen

            self.push_screen(RunbookScreen(self.runbook))
        if self._watch_tokens:
            self.poll_tokens()
            self.set_interval(self.poll_seconds, self.poll_tokens)

    def _set_preflight(self, report: PreflightReport) -> None:
        self.preflight = report

    # --------------------------------------------------------------- tokens

    def poll_tokens(self) -> None:
        """Read the slots in a worker; the newest answer wins."""
        self.run_worker(self._read_tokens, thread=True, group="tokens", exclusive=True)

    def _read_tokens(self) -> None:
        try:
            found = tuple(self.ceremony.tokens())
            problem = None
        except CeremonyError as error:
            found, problem = (), error.problem
        self.call_from_thread(self._set_tokens, found, problem)

    def _set_tokens(self, found: tuple[TokenInfo, ...], problem: str | None) -> None:
        self.token_problem = problem
        if found != self.tokens:
            self.tokens = found

    # --------------------------------------------------------------- record

    def refresh_record(self) -> None:
        try:
            self.record = self.ceremony.record_info()
        except CeremonyError:
            self.record = None

    # --------------------------------------------------------- core calls

    def run_core(
        self,
        work: Callable[[], T],
        done: Callable[[T], Any] | None = None,
        *,
        failed: Callable[[CeremonyError], Any] | None = None,
        quiet: bool = False,
    ) -> None:
        """Run a core call off the event loop; our errors become messages.

        ``done`` gets the result and ``failed`` our error, both on the
        event loop. Anything else that goes wrong is shown as a message
        too: the app never ends in a traceback in front of a key holder.
        """

        def job() -> None:
            try:
                result = work()
            except CeremonyError as error:
                self.call_from_thread(self._failed, error, failed, quiet)
                return
            except Exception as error:
                detail = "".join(traceback.format_exception_only(type(error), error)).strip()
                unexpected = CeremonyError(
                    f"something unexpected went wrong: {detail}",
                    "nothing more was done; note what you did and try again",
                )
                self.call_from_thread(self._failed, unexpected, failed, quiet)
                return
            self.call_from_thread(self._done, result, done)

        self.run_worker(job, thread=True, group="core")

    def _done(self, result: T, done: Callable[[T], Any] | None) -> None:
        self.refresh_record()
        if done is not None:
            done(result)

    def _failed(
        self,
        error: CeremonyError,
        failed: Callable[[CeremonyError], Any] | None,
        quiet: bool,
    ) -> None:
        self.refresh_record()
        if failed is not None:
            failed(error)
        elif not quiet:
            self.show_error(error)

    def show_error(self, error: CeremonyError) -> None:
        from tui.screens.dialogs import ErrorDialog

        self.push_screen(ErrorDialog(error))

    # -------------------------------------------------------------- actions

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_quit_app(self) -> None:
        self.ceremony.close()
        self.exit(0)

    def on_unmount(self) -> None:
        self.ceremony.close()
