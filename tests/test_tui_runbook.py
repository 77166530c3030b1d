"""A runbook walked in the app, step by step, to its end: provision-token.

The test answers each view as the people in the room would: Enter on a
check, the holder's name typed, the PINs typed into the masked dialogs,
bag numbers typed twice, every participant's agreement at the close. The
record then verifies and holds every step.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Button, Input

from ceremony import audit, tokens
from ceremony.runbooks import engine
from ceremony.runbooks.library import Library
from tests.conftest import USER_PIN
from tests.test_tui_app import make_app, until
from tui.screens.dialogs import PinDialog
from tui.screens.runbook import RunbookScreen

SO_PIN = "so-pin-4321"
ENTRIES = {"holders": "Hana", "label": "hana-token"}


def test_provision_token_walked_to_its_end(workspace, lib):
    (workspace / "ceremony.toml").write_text('[repository]\nname = "ws"\n')
    runbook = Library.load(workspace).get("provision-token")
    view = asyncio.run(_walk(workspace, runbook))
    assert isinstance(view, engine.FinishedView) and view.closed
    (path,) = (workspace / "transcripts").glob("*.jsonl")
    result = audit.verify_transcript(path)
    assert result.closed
    records = audit.read_records(path)[0]
    done = {r["details"].get("step") for r in records if r["event"] == "step"}
    assert {"preflight", "holders", "initialise", "inventory", "seal", "close"} <= done
    assert any(t.label == "hana-token" for t in tokens.list_tokens(lib) if t.present)
    assert USER_PIN.encode() not in path.read_bytes() and SO_PIN.encode() not in path.read_bytes()


async def _type(pilot, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


async def _walk(workspace: Path, runbook) -> engine.View:
    app = make_app(workspace)
    async with app.run_test(size=(110, 40)) as pilot:
        app.push_screen(RunbookScreen(runbook))
        screen = app.screen
        await until(pilot, lambda: getattr(screen, "view", None) is not None, "the first step")
        assert isinstance(screen, RunbookScreen)
        for _ in range(200):
            await until(pilot, lambda: not screen.busy or isinstance(app.screen, PinDialog), "next")
            if isinstance(app.screen, PinDialog):
                await _answer_pin(pilot, app.screen)
                continue
            view = screen.view
            if isinstance(view, engine.FinishedView):
                return view
            await _answer(pilot, screen, view)
        raise AssertionError("the runbook never finished")


async def _answer_pin(pilot, dialog: PinDialog) -> None:
    pin = SO_PIN if "security officer" in dialog.heading else USER_PIN
    await _type(pilot, pin)
    await pilot.press("enter")
    if dialog.twice:
        await _type(pilot, pin)
        await pilot.press("enter")
    await pilot.pause(0.2)


async def _answer(pilot, screen: RunbookScreen, view: engine.View) -> None:
    if isinstance(view, engine.EntryStep):
        screen.query_one("#step-input", Input).focus()
        await _type(pilot, ENTRIES.get(view.step.id, "x"))
        await pilot.press("enter")
    elif isinstance(view, engine.QuestionStep):
        (button,) = [b for b in screen.query(Button) if b.name == "no"]  # not a PIV card
        button.press()
    elif isinstance(view, engine.PlannedView) and view.step.inputs:
        for field in screen.query(".action-input").results(Input):
            name = field.name or ""
            field.value = "agree" if name.startswith("agree:") else "BAG-0042"
        await pilot.press("enter")
    elif isinstance(view, engine.IrregularView):
        raise AssertionError(f"irregular: {view.expected} / {view.actual}")
    else:
        screen.set_focus(None)
        await pilot.press("enter")
    await pilot.pause(0.1)
