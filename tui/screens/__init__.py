"""The app's screens: one job each, with its keys in the footer and its help behind '?'."""

from __future__ import annotations

from typing import Any


def navigate(app: Any, name: str) -> None:
    """Open the screen called ``name`` from the home menu."""
    from tui.screens.propose import ProposeScreen
    from tui.screens.record import RecordScreen
    from tui.screens.roles import PickStagedScreen, RolesScreen
    from tui.screens.runbook import RunbooksScreen
    from tui.screens.start import StartScreen
    from tui.screens.tokens import TokensScreen
    from tui.screens.transfer import TransferScreen

    screens: dict[str, Any] = {
        "start": StartScreen,
        "tokens": TokensScreen,
        "roles": RolesScreen,
        "propose": ProposeScreen,
        "sign": PickStagedScreen,
        "transfer": TransferScreen,
        "record": RecordScreen,
        "runbooks": RunbooksScreen,
    }
    app.push_screen(screens[name]())
