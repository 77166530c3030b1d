"""Snapshots of the app's main screens, at 80x24 and 160x50.

The workspace, the clock and the token readers are fixed (tests/snapshot_kit.py),
so each picture is the same on every machine; a change to a screen shows as
a changed snapshot to look at (pytest --snapshot-update once it is right).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from ceremony import rounds
from ceremony.signing import Holder
from tests import snapshot_kit
from tui.app import CeremonyApp

SIZES = [(80, 24), (160, 50)]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CeremonyApp:
    monkeypatch.chdir(tmp_path)
    snapshot_kit.build(Path("ws"), monkeypatch)
    return CeremonyApp(snapshot_kit.ceremony(Path("ws")), watch_tokens=False)


async def settle(pilot) -> None:
    """Let the workers (core calls off the event loop) finish and the screen draw."""
    for _ in range(5):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)


def keys(*presses: str):
    async def run(pilot) -> None:
        await settle(pilot)
        app = pilot.app
        app.tokens = tuple(app.ceremony.tokens())
        for key in presses:
            await pilot.press(key)
            await settle(pilot)
        steady_cursors(app)
        await settle(pilot)

    return run


def steady_cursors(app: CeremonyApp) -> None:
    """A text field's cursor blinks every half second: shown steadily here, so
    the picture does not depend on the moment it is taken."""
    for field in app.screen.query(Input):
        field.cursor_blink = False


SCREENS = {
    "home": (),
    "start": ("1",),
    "tokens": ("2",),
    "roles": ("3",),
    "propose": ("4",),
    "review": ("5", "enter"),
    "transfer": ("6",),
    "record": ("7",),
    "runbooks": ("8",),
    "help": ("question_mark",),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_main_screens(snap_compare, app, screen, size):
    assert snap_compare(app, terminal_size=size, run_before=keys(*SCREENS[screen]))


class FixedRound:
    """The signing round at a holder's PIN, as the engine would give it."""

    def __init__(self) -> None:
        key = snapshot_kit.signer("Bob").public_key
        self.step = rounds.PinNeeded(
            Holder.of(key), snapshot_kit.token_info("Bob"), (Holder.of(key),)
        )

    def poll(self) -> rounds.Step:
        return self.step


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_sign_screen(snap_compare, app, size):
    from tui.screens.sign import SignScreen

    async def run(pilot) -> None:
        await settle(pilot)
        pilot.app.push_screen(SignScreen("root", FixedRound()))
        await settle(pilot)
        steady_cursors(pilot.app)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run)
