"""A folder that is not a workspace yet: say so, and create one only when asked."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Static

from ceremony.text import visible
from tui.screens.base import BaseScreen


class NotAWorkspaceScreen(BaseScreen):
    TITLE = "Not a workspace"
    HELP = """\
The folder given with --workspace (or the current folder) holds no
ceremony.toml, so it is not a ceremony workspace. If you meant another
folder, quit and start again with the right --workspace: nothing has been
written. To begin a new repository here, choose 'Create': the root of trust
form opens, and the workspace is created only when you stage root version 1."""
    BINDINGS = [  # noqa: RUF012
        Binding("c", "create", "Create a workspace here"),
        Binding("q", "app.quit_app", "Quit"),
    ]

    def body(self) -> ComposeResult:
        path = visible(self.ceremony.path.resolve())
        exists = self.ceremony.path.exists()
        yield Static(f"[b]{path}[/b]", markup=True, classes="title")
        where = "exists but holds no ceremony.toml" if exists else "does not exist"
        yield Static(
            f"This folder {where}: it is not a ceremony workspace.\n\n"
            "If this is a typo, quit (q) and start again with the right --workspace.\n"
            "To begin a new repository here, create a workspace (c): you will fill in\n"
            "the root of trust, and nothing is written until you confirm the plan.",
            markup=False,
        )
        with Horizontal(classes="buttons"):
            yield Button("Create a workspace here (c)", id="create", variant="primary")
            yield Button("Quit (q)", id="quit")

    def on_mount(self) -> None:
        self.query_one("#quit", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.action_create()
        else:
            self.ceremony_app.action_quit_app()

    def action_create(self) -> None:
        from tui.screens.propose import RootInitForm

        self.app.push_screen(RootInitForm(new_workspace=True))
