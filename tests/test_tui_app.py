"""The app driven with Textual's Pilot against real SoftHSM tokens.

Each test presses the keys a person would and reads what the screen shows;
the workspace and the record are then checked on disk, so what the app did
is exactly what the engine did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from ceremony import audit
from ceremony.session import Ceremony
from ceremony.workspace import Workspace
from tests.conftest import USER_PIN
from tests.kit import ceremony as cli
from tests.kit import make_holder, make_people, review, root_args
from tests.test_session import unplugged
from tui.app import CeremonyApp
from tui.screens.home import HomeScreen
from tui.screens.review import ReviewScreen
from tui.screens.sign import SignScreen
from tui.screens.tokens import KeyReport, TokensScreen
from tui.screens.transfer import TransferScreen

SIZE = (100, 40)


@pytest.fixture
def people(lib, make_token, tmp_path):
    return make_people(lib, make_token, tmp_path / "keys-in")


def make_app(workspace: Path) -> CeremonyApp:
    session = Ceremony(workspace, operator="Olivia Operator", allow_network=True)
    return CeremonyApp(session, poll_seconds=0.3)


def shown(app: CeremonyApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


async def until(pilot, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Wait, as a person would, until the screen shows what comes next."""
    for _ in range(int(timeout / 0.05)):
        await pilot.pause(0.05)
        try:
            if condition():
                return
        except Exception:
            continue
    raise AssertionError(f"the app never showed: {what}")


async def showing(pilot, app: CeremonyApp, text: str, where: str = "#instruction") -> None:
    await until(pilot, lambda: text in shown(app, where), text)


def run(coro) -> None:
    asyncio.run(coro)


def records(workspace: Path) -> list[dict]:
    transcript = audit.Transcript.current(workspace)
    assert transcript is not None
    return audit.read_records(transcript.path)[0]


async def type_pin(pilot, pin: str) -> None:
    for char in pin:
        await pilot.press(char)
    await pilot.press("enter")


def staged_root_ready(people, workspace: Path) -> None:
    holders, online = people
    assert cli(workspace, *root_args(holders, online)) == 0


def signed_root(people, workspace: Path, monkeypatch) -> list:
    """Root v1 made and signed by two of three holders, at the CLI."""
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    holders, online = people
    assert cli(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    for holder in holders[:2]:
        assert cli(workspace, "sign", "root", "--token", holder.token) == 0
    return holders


def published_root(people, workspace: Path, monkeypatch) -> list:
    """Root v1 made, signed by two of three holders and published, at the CLI."""
    holders = signed_root(people, workspace, monkeypatch)
    assert cli(workspace, "publish", "root") == 0
    return holders


async def open_review_and_sign(pilot, app: CeremonyApp) -> None:
    await pilot.press("5")
    await until(pilot, lambda: app.screen.query_one("#pick").option_count > 0, "staged roles")
    await pilot.press("down", "enter")
    await until(pilot, lambda: isinstance(app.screen, ReviewScreen), "the review")
    await until(pilot, lambda: "Short fingerprint" in shown(app, "#fingerprint"), "the hash")
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, SignScreen), "the signing round")


# ---------------------------------------------------------------- flows


def test_two_holders_review_sign_and_publish(people, workspace):
    staged_root_ready(people, workspace)
    run(_review_sign_publish(workspace))
    assert (workspace / "metadata" / "1.root.json").is_file()
    events = [r["event"] for r in records(workspace)]
    assert events.count(audit.SIGNATURE_MADE) == 2 and audit.PUBLISH in events
    for path in workspace.rglob("*"):
        if path.is_file():
            assert USER_PIN.encode() not in path.read_bytes(), path


async def _review_sign_publish(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_review_and_sign(pilot, app)
        for holder in ("Alice", "Bob"):
            ready = f"This is the token of {holder}"
            await until(pilot, lambda r=ready: r in shown(app, "#instruction"), ready)
            pin = app.screen.query_one("#pin", Input)
            assert pin.password and pin.display
            await type_pin(pilot, USER_PIN)
            assert pin.value == ""  # cleared the moment it was handed over
            await showing(pilot, app, "REMOVE YOUR TOKEN")
            if holder == "Alice":
                assert "press n for the next holder" in shown(app, "#instruction")
                await pilot.press("n")
        # The last signature says the thresholds are met: publish, no other key first.
        text = shown(app, "#instruction")
        assert "Every threshold of root is met" in text and "next holder" not in text
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#yes"), "the publish question")
        await pilot.press("y")
        await until(pilot, lambda: (workspace / "metadata" / "1.root.json").exists(), "published")
        # Back home, with a rehearsal's hint shown, nothing is left to publish.
        app.hint = "Rehearsal on SoftHSM tokens."
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), "the home screen")
        app.screen.action_refresh()
        await showing(pilot, app, "Nothing is staged", "#next")
        assert "publish" not in shown(app, "#next")


def test_wrong_pin_is_shown_with_the_token_pin_state(people, workspace):
    staged_root_ready(people, workspace)
    run(_wrong_pin(workspace))
    staged = Workspace.open(workspace).staged_payload("root")
    assert staged.signatures == {}


async def _wrong_pin(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_review_and_sign(pilot, app)
        await showing(pilot, app, "This is the token of Alice")
        await type_pin(pilot, "999999")
        await showing(pilot, app, "wrong PIN")
        text = shown(app, "#instruction")
        assert "now reports: tries low" in text or "now reports: ok" in text
        assert text.count("now reports") == 1, text  # the PIN state is said once
        assert app.screen.query_one("#pin", Input).display  # the holder may type it again


def test_wrong_token_then_the_right_one(people, workspace, softhsm_conf, tmp_path):
    holders, _ = people
    staged_root_ready(people, workspace)
    review(workspace, "root")
    run(_wrong_token(workspace, softhsm_conf, holders[0].serial, tmp_path / "aside"))


async def _wrong_token(workspace: Path, conf: Path, serial: str, aside: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        with unplugged(conf, serial, aside):
            app.push_screen(SignScreen("root"))
            await until(
                pilot,
                lambda: "does not hold the key of Alice" in shown(app, "#instruction"),
                "the wrong token",
            )
            assert not app.screen.query_one("#pin", Input).display  # no PIN asked for
        # Alice's token is back: the screen follows by itself, no key pressed.
        await showing(pilot, app, "This is the token of Alice")
        assert app.screen.query_one("#pin", Input).display


def test_token_removed_during_the_signature(people, workspace, softhsm_conf, tmp_path):
    holders, _ = people
    staged_root_ready(people, workspace)
    review(workspace, "root")
    before = (workspace / "staged" / "root.json").read_bytes()
    run(_pulled(workspace, softhsm_conf, holders[0].serial, tmp_path / "aside", before))


async def _pulled(workspace: Path, conf: Path, serial: str, aside: Path, before: bytes) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(SignScreen("root"))
        await showing(pilot, app, "This is the token of Alice")
        with unplugged(conf, serial, aside):
            await type_pin(pilot, USER_PIN)
            await showing(pilot, app, "Nothing was signed")
            assert (workspace / "staged" / "root.json").read_bytes() == before
        await showing(pilot, app, "This is the token of Alice")
        await type_pin(pilot, USER_PIN)
        await showing(pilot, app, "REMOVE YOUR TOKEN")


def test_rotation_shows_the_old_threshold_rule(people, workspace, monkeypatch):
    holders = published_root(people, workspace, monkeypatch)
    run(_rotation(workspace))
    staged = Workspace.open(workspace).staged("root")
    assert staged.signed.version == 2
    assert holders[2].keyid not in staged.signed.roles["root"].keyids


async def _rotation(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.press("down", "enter")  # root rotation
        await until(pilot, lambda: app.screen.query_one("#remove").option_count == 3, "keys")
        await pilot.press("down", "down", "down", "space")  # Carol leaves
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.query("#plan-text"), "the plan")
        plan = shown(app, "#plan-text")
        assert "root: key removed: Carol" in plan and "root version 2" in plan
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen), "the review")
        await until(pilot, lambda: "Short fingerprint" in shown(app, "#fingerprint"), "hash")
        await pilot.press("c")
        await until(pilot, lambda: "current root must approve" in shown(app, "#progress"), "old")
        progress = shown(app, "#progress")
        assert "root v1 keys (the current root must approve): 0 of 2" in progress
        assert "root v2 keys (the new root): 0 of 2" in progress


def test_generate_a_key_on_a_token(lib, make_token, workspace):
    (workspace / "ceremony.toml").write_text('[repository]\nname = "ws"\n')
    label = make_token("fresh")
    run(_generate(workspace, label))
    generated = [r for r in records(workspace) if r["event"] == audit.KEY_GENERATED]
    assert generated and generated[-1]["details"]["born_on_token"] is True
    assert generated[-1]["actor"] == "Gwen Holder"


async def _generate(workspace: Path, label: str) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, TokensScreen), "tokens")
        table = app.screen.query_one("#tokens", DataTable)
        await until(pilot, lambda: table.row_count > 0, "the token list")
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.move_cursor(row=labels.index(label))
        await pilot.press("g")
        await until(pilot, lambda: app.screen.query("#owner"), "the key form")
        for char in "Gwen Holder":
            await pilot.press(char if char != " " else "space")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#pin"), "the PIN dialog")
        await type_pin(pilot, USER_PIN)
        await until(pilot, lambda: isinstance(app.screen, KeyReport), "the key report")
        report = str(app.screen.query_one(Static).content)
        assert "born on the token, cannot leave it" in report and "Gwen Holder" in report


def test_root_init_through_the_form(lib, make_token, tmp_path):
    keys = tmp_path / "stick"
    keys.mkdir()
    holders = [make_holder(lib, make_token, keys, n) for n in ("Alice", "Bob")]
    workspace = tmp_path / "new-ws"
    run(_root_init(workspace, keys))
    staged = Workspace.open(workspace).staged("root")
    assert set(staged.signed.roles["root"].keyids) == {h.keyid for h in holders}
    assert staged.signed.roles["root"].threshold == 2


async def _root_init(workspace: Path, keys: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=(100, 60)) as pilot:
        await until(pilot, lambda: app.screen.query("#create"), "not a workspace")
        assert not workspace.exists()
        await pilot.press("c")
        await until(pilot, lambda: app.screen.query("#key-folder"), "the root form")
        app.screen.query_one("#key-folder", Input).value = str(keys)
        await pilot.press("ctrl+r")
        picker = "#keys-root"
        await until(pilot, lambda: app.screen.query_one(picker).option_count == 2, "keys")
        for role in ("root", "targets", "snapshot", "timestamp"):
            app.screen.query_one(f"#keys-{role}").focus()
            await pilot.press("down", "space")
            if role == "root":
                await pilot.press("down", "space")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.query("#plan-text"), "the plan")
        plan = shown(app, "#plan-text")
        assert "root: threshold 2 of 2 keys" in plan and "Alice" in plan
        assert not workspace.exists(), "nothing is written before the plan is confirmed"
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen), "the review")


def test_token_pulled_out_at_the_signature_itself(people, workspace, faults):
    """The fault module fails C_Sign with CKR_DEVICE_REMOVED: the screen says so,
    nothing is saved, and the holder signs again once the token is back."""
    staged_root_ready(people, workspace)
    review(workspace, "root")
    before = (workspace / "staged" / "root.json").read_bytes()
    run(_pulled_at_sign(workspace, faults, before))
    staged = Workspace.open(workspace).staged_payload("root")
    assert len(staged.signatures) == 1


async def _pulled_at_sign(workspace: Path, faults, before: bytes) -> None:
    session = Ceremony(
        workspace, operator="Olivia Operator", allow_network=True, module=faults.path
    )
    app = CeremonyApp(session, poll_seconds=0.3)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(SignScreen("root"))
        await showing(pilot, app, "This is the token of Alice")
        faults.arm("C_Sign 1 CKR_DEVICE_REMOVED")
        await type_pin(pilot, USER_PIN)
        await showing(pilot, app, "Nothing was signed")
        assert "removed" in shown(app, "#instruction")
        assert faults.fired() == ["C_Sign 1 0x32"]  # CKR_DEVICE_REMOVED
        assert (workspace / "staged" / "root.json").read_bytes() == before
        faults.disarm()
        await showing(pilot, app, "This is the token of Alice")
        # Why the first try signed nothing stays beside the new PIN prompt.
        assert "Nothing was signed" in shown(app, "#instruction")
        await type_pin(pilot, USER_PIN)
        await showing(pilot, app, "REMOVE YOUR TOKEN")


def test_export_to_a_stick_from_the_directory_field(people, workspace, tmp_path, monkeypatch):
    """The export key works while the cursor is still in the directory field
    (where the text field has its own keys); a folder whose parent is missing
    (an unmounted stick) is refused with nothing written."""
    published_root(people, workspace, monkeypatch)
    stick = tmp_path / "stick"
    stick.mkdir()
    run(_export_from_field(workspace, stick))
    assert (stick / "out" / "SHA256SUMS").is_file()
    assert (stick / "out" / "bundle.json").is_file()
    assert not (tmp_path / "unmounted").exists()


async def _export_from_field(workspace: Path, stick: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TransferScreen())
        await until(pilot, lambda: app.screen.query("#export-dir"), "the export screen")
        field = app.screen.query_one("#export-dir", Input)
        field.focus()
        await pilot.press(*str(stick.parent / "unmounted" / "out"))
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.screen.query("#fix"), "the refusal")
        assert "USB" in shown(app, "#fix") or "mount" in shown(app, "#fix")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TransferScreen), "back")
        field.value = ""
        field.focus()
        await pilot.press(*str(stick / "out"))
        await pilot.press("ctrl+r")
        await showing(pilot, app, "Exported to", "#transfer-result")


def test_publish_from_the_roles_screen(people, workspace, monkeypatch):
    """The roles screen publishes through the same question as the sign screen,
    then shows the new version in its table."""
    signed_root(people, workspace, monkeypatch)
    run(_publish_from_roles(workspace))
    assert (workspace / "metadata" / "1.root.json").is_file()


async def _publish_from_roles(workspace: Path) -> None:
    from textual.widgets import OptionList

    from tui.screens.roles import RolesScreen

    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RolesScreen())
        staged = lambda: app.screen.query_one("#staged", OptionList)  # noqa: E731
        await until(pilot, lambda: staged().get_option_at_index(0).id == "root", "root staged")
        staged().highlighted = 0
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#yes"), "the publish question")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RolesScreen), "back on the roles")
        table = app.screen.query_one("#published", DataTable)
        await until(pilot, lambda: table.row_count > 0 and "root" in str(table.get_row_at(0)), "v1")


def test_token_init_dialog_cancelled_keeps_no_pin(people, workspace):
    run(_init_cancelled(workspace))


async def _init_cancelled(workspace: Path) -> None:
    from tui.screens.tokens import InitDialog

    app = make_app(workspace)
    results: list = []
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(InitDialog(None), results.append)
        await until(pilot, lambda: app.screen.query("#so1"), "the init dialog")
        dialog = app.screen
        await pilot.press(*"new-label")
        dialog.query_one("#so1", Input).focus()
        await pilot.press(*"87654321", "enter")  # Enter alone sends nothing
        assert isinstance(app.screen, InitDialog) and results == []
        fields = [dialog.query_one(f"#{n}", Input) for n in ("so1", "so2", "pin1", "pin2")]
        assert fields[0].value == "87654321"
        await pilot.press("escape")
        await until(pilot, lambda: results == [None], "closed with nothing")
        assert all(field.value == "" for field in fields)  # the PIN typed is not kept
