"""Across the air gap: a bundle to a USB stick or as animated QR; a bundle imported."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from ceremony.errors import BadInput
from ceremony.text import visible
from ceremony.words import short_words
from tui.screens.base import BaseScreen
from tui.screens.dialogs import ConfirmDialog
from tui.widgets.qr_player import QrPlayer

PURPOSES = (
    ("publish: published metadata, for the online server", "publish"),
    ("partial: staged proposals with signatures so far, for another site", "partial"),
    ("keys: the public keys in keys/", "keys"),
)


class TransferScreen(BaseScreen):
    TITLE = "Export and import"
    HELP = """\
Export writes a bundle: the files with their SHA-256, in one document. To a
directory (a USB stick), with SHA256SUMS beside it, or as animated QR codes
on this screen for a camera on the other side. The bundle hash is shown on
both sides: compare it. Import reads a bundle (a directory or file) and
shows what it will do before anything is written."""
    BINDINGS = [  # noqa: RUF012
        # Not Ctrl+E: in the directory field that is the text field's "end of line".
        Binding("ctrl+r", "export_dir", "Export to directory"),
        Binding("ctrl+g", "export_qr", "Show as QR"),
        Binding("ctrl+o", "import_bundle", "Import"),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("What to export")
            yield Select(PURPOSES, value="publish", allow_blank=False, id="purpose")
            yield Label("Directory to write (a new folder on the mounted USB stick)")
            yield Input(placeholder="/media/usb/ceremony-export", id="export-dir")
            with Horizontal(classes="buttons"):
                yield Button("Export to directory (Ctrl+R)", id="export-dir-button")
                yield Button("Show as QR (Ctrl+G)", id="export-qr-button")
            yield Label("Import a bundle: its directory or file")
            yield Input(placeholder="/media/usb/from-site-b", id="import-path")
            yield Button("Import… (Ctrl+O)", id="import-button")
            yield Static("", id="transfer-result", markup=False)

    def on_mount(self) -> None:
        self.query_one("#purpose", Select).focus()

    def _purpose(self) -> str:
        return str(self.query_one("#purpose", Select).value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "export-dir-button": self.action_export_dir,
            "export-qr-button": self.action_export_qr,
            "import-button": self.action_import_bundle,
        }
        if event.button.id in actions:
            actions[event.button.id]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "export-dir":
            self.action_export_dir()
        elif event.input.id == "import-path":
            self.action_import_bundle()

    def action_export_dir(self) -> None:
        text = self.query_one("#export-dir", Input).value.strip()
        if not text:
            self.ceremony_app.show_error(
                BadInput("no directory was given", "type a new folder on the mounted USB stick")
            )
            return
        purpose = self._purpose()
        self.ceremony_app.run_core(
            lambda: self.ceremony.export_to_dir(purpose, Path(text)), self._exported
        )

    def _exported(self, target: Path) -> None:
        self.query_one("#transfer-result", Static).update(
            f"Exported to {visible(target)} with SHA256SUMS and bundle.json.\n"
            f"Check the copy anywhere with: cd {visible(target)} && sha256sum -c SHA256SUMS"
        )

    def action_export_qr(self) -> None:
        purpose = self._purpose()
        self.ceremony_app.run_core(
            lambda: self.ceremony.build_export(purpose),
            lambda bundle: self.app.push_screen(QrScreen(bundle)),
        )

    def action_import_bundle(self) -> None:
        text = self.query_one("#import-path", Input).value.strip()
        if not text:
            self.ceremony_app.show_error(
                BadInput("no bundle was given", "type the bundle's directory or file")
            )
            return
        self.ceremony_app.run_core(lambda: self.ceremony.plan_import(Path(text)), self._plan)

    def _plan(self, plan: object) -> None:
        lines = plan.summary()  # type: ignore[attr-defined]

        def answered(yes: bool | None) -> None:
            if yes:
                self.ceremony_app.run_core(lambda: self.ceremony.apply_import(plan), self._imported)

        self.app.push_screen(
            ConfirmDialog("Import this bundle?", "\n".join(lines), "Import"), answered
        )

    def _imported(self, report: object) -> None:
        failed = getattr(report, "failed", False)
        roles = getattr(report, "roles", [])
        lines = [f"Imported. Roles: {', '.join(visible(r.role) for r in roles) or 'none'}."]
        if failed:
            lines.append("Some signatures did NOT verify and were not kept: ask for them again.")
        lines.append("Next: review and sign (5 on the home screen), or look at the roles (3).")
        self.query_one("#transfer-result", Static).update("\n".join(lines))


class QrScreen(BaseScreen):
    """The bundle as animated QR codes, at the largest size that fits."""

    TITLE = "QR transfer"
    HELP = """\
Hold the other side's camera to the screen until it says the bundle is
complete; any K codes rebuild it, in any order, whatever was missed.
Keys: space pause or go on, n next code, + and - faster or slower, f the
code alone on the screen (no bars). Compare the transfer hash shown below
the code with the one the receiving side prints."""
    BINDINGS = [  # noqa: RUF012
        Binding("space", "pause", "Pause"),
        Binding("n", "step", "Next code"),
        Binding("plus", "faster", "Faster", key_display="+"),
        Binding("minus", "slower", "Slower", key_display="-"),
        Binding("f", "full", "Full screen"),
    ]

    def __init__(self, bundle: object) -> None:
        super().__init__()
        self.bundle = bundle

    def body(self) -> ComposeResult:
        self.player = QrPlayer(self.bundle, id="player")  # type: ignore[arg-type]
        yield self.player

    def on_mount(self) -> None:
        self.player.focus()

    def on_unmount(self) -> None:
        player = self.player
        if player.encoder is not None and player.shown:
            encoder, shown = player.encoder, player.shown
            self.ceremony_app.run_core(
                lambda: self.ceremony.record_screen_export(self.bundle, encoder, shown)  # type: ignore[arg-type]
            )

    def action_pause(self) -> None:
        self.player.toggle_pause()

    def action_step(self) -> None:
        self.player.step()

    def action_faster(self) -> None:
        self.player.change_speed(1)

    def action_slower(self) -> None:
        self.player.change_speed(-1)

    def action_full(self) -> None:
        self.toggle_class("full")
        self.player.refit()


__all__ = ["ConfirmDialog", "QrScreen", "TransferScreen", "short_words"]
