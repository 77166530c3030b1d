"""Roles: what is published (versions, expiry, thresholds, holders) and what waits."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from ceremony.errors import BadInput
from ceremony.overview import RoleSummary
from ceremony.signing import PublishPlan, RoleStatus
from ceremony.text import visible
from tui.screens.base import BaseScreen
from tui.screens.dialogs import ConfirmDialog
from tui.widgets.plain import plain


def progress_lines(state: RoleStatus) -> list[str]:
    """Each threshold of a staged role on its own line: old and new root apart."""
    verdict = "complete: ready to publish" if state.complete else "needs signatures"
    reviewed = "reviewed" if state.reviewed else "NOT reviewed yet"
    lines = [f"{visible(state.role)} v{state.version}: {verdict}; {reviewed}"]
    for req in state.requirements:
        mark = "met" if req.met else f"{req.missing} more needed"
        lines.append(f"  {visible(req.title)}: {len(req.signed)} of {req.threshold} ({mark})")
        waiting = req.still_needed()
        if waiting:
            lines.append("    waiting for: " + ", ".join(h.short() for h in waiting))
    return lines


class RolesScreen(BaseScreen):
    TITLE = "Roles and signatures"
    HELP = """\
The top table lists what is published: each role's version, when it expires
(in words, and marked SOON or EXPIRED), and the thresholds it sets with the
holders' names. Below it, each staged proposal with its signatures so far;
a root rotation needs a threshold of the CURRENT root's keys and a threshold
of the NEW root's keys, shown on separate lines. Choose a staged role and
review and sign it (s), or publish it once complete (p)."""
    BINDINGS = [  # noqa: RUF012
        Binding("s", "sign", "Review and sign"),
        Binding("p", "publish", "Publish"),
        Binding("r", "refresh", "Refresh"),
    ]

    def body(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="published", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("Staged proposals:", classes="dim")
        yield OptionList(id="staged", markup=False)
        yield Static("", id="staged-detail", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#published", DataTable)
        table.add_columns("role", "ver", "expires", "thresholds")
        self.query_one("#staged", OptionList).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        if not self.ceremony.is_workspace:
            return
        self.ceremony_app.run_core(self.ceremony.overview, self._show_published)
        self.ceremony_app.run_core(self.ceremony.status, self._show_staged)

    def _show_published(self, roles: list[RoleSummary]) -> None:
        table = self.query_one("#published", DataTable)
        table.clear()
        for summary in roles:
            expiry = summary.expiry
            style = "bold red" if expiry.expired else "bold yellow" if expiry.soon else ""
            words = expiry.words() if summary.problem is None else summary.problem
            thresholds = "; ".join(t.words() for t in summary.delegates) or "-"
            table.add_row(
                plain(summary.role),
                plain(summary.version),
                plain(words, style),
                Text(thresholds),
            )
        if not roles:
            table.add_row(plain("(nothing published yet)"), "", "", "")

    def _show_staged(self, states: list[RoleStatus]) -> None:
        self.states = states
        options = self.query_one("#staged", OptionList)
        options.clear_options()
        for state in states:
            options.add_option(Option("\n".join(progress_lines(state)), id=state.role))
        if not states:
            options.add_option(Option("Nothing is staged.", id=""))

    def _selected(self) -> str | None:
        options = self.query_one("#staged", OptionList)
        if options.highlighted is None:
            return None
        role = options.get_option_at_index(options.highlighted).id
        return role or None

    def action_sign(self) -> None:
        from tui.screens.review import ReviewScreen

        role = self._selected()
        if role:
            self.app.push_screen(ReviewScreen(role))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.action_sign()

    def action_publish(self) -> None:
        role = self._selected()
        if role:
            publish(self, role, self.action_refresh)


def publish(screen: BaseScreen, role: str, then: Any = None) -> None:
    """Check the role for publishing (the plan), ask, then publish it."""

    def confirm(plan: PublishPlan) -> None:
        question = f"Publish {visible(plan.role)} version {plan.version}?"
        detail = (
            "Every threshold is met. The version is written to metadata/ and is never "
            "overwritten afterwards. Payload SHA-256: " + plan.payload_sha256[:16] + "…"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                screen.ceremony_app.run_core(lambda: screen.ceremony.publish(plan), published)

        screen.app.push_screen(ConfirmDialog(question, detail, "Publish"), answered)

    def published(paths: list[Any]) -> None:
        names = ", ".join(visible(p.name) for p in paths)
        screen.app.notify(f"Published {names}. Next: export (6 on the home screen).", markup=False)
        if then is not None:
            then()

    screen.ceremony_app.run_core(lambda: screen.ceremony.plan_publish(role), confirm)


class PickStagedScreen(BaseScreen):
    """Which staged role to review and sign."""

    TITLE = "Review and sign"
    HELP = """\
Choose the staged role to review. The review shows the change in words and
the fingerprint to read aloud; then each holder inserts their token,
confirms and types their PIN."""

    def body(self) -> ComposeResult:
        yield Static("Choose the proposal to review and sign:", classes="dim")
        yield OptionList(id="pick", markup=False)

    def on_mount(self) -> None:
        self.query_one("#pick", OptionList).focus()
        self.ceremony_app.run_core(self.ceremony.status, self._show)

    def _show(self, states: list[RoleStatus]) -> None:
        options = self.query_one("#pick", OptionList)
        for state in states:
            options.add_option(Option("\n".join(progress_lines(state)), id=state.role))
        if states:
            options.highlighted = 0
        if not states:
            self.app.pop_screen()
            self.ceremony_app.show_error(
                BadInput(
                    "nothing is staged, so there is nothing to sign",
                    "propose a change first (4 on the home screen)",
                )
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        from tui.screens.review import ReviewScreen

        if event.option.id:
            self.app.switch_screen(ReviewScreen(event.option.id))
