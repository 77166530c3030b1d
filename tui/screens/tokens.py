"""Tokens: every token present, its PIN state and its keys; make and export keys.

The list follows the readers on its own (the app polls them in a worker):
insert or remove a token and it shows within a second or two. Keys are read
without a PIN (their public halves); the evidence that a key was born on
the token is read after a login, or shown from the record of its making.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from ceremony.errors import BadInput
from ceremony.session import GeneratedKey, KeyInfo
from ceremony.text import visible
from ceremony.tokens import TokenInfo
from tui.screens.base import BaseScreen
from tui.screens.dialogs import ConfirmDialog, FormDialog, NoticeDialog, PinDialog
from tui.widgets.plain import plain

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072", "rsa-4096")


def pin_words(info: TokenInfo) -> str:
    if not info.present:
        return "no token"
    if info.problem:
        return info.problem
    return ", ".join(info.pin_state)


def evidence_words(key: KeyInfo) -> str:
    if key.evidence is None:
        return "log in (l) to read"
    if key.evidence.born_on_token:
        return "born on the token, cannot leave it"
    return "NOT PROVEN: " + ", ".join(key.evidence.failures())


class TokensScreen(BaseScreen):
    TITLE = "Tokens"
    HELP = """\
Every reader slot and the token in it: label, serial, model and what the
token says about its PIN (tries low, final try, locked). Insert or remove a
token and the list follows within a couple of seconds. Choose a token with
the arrow keys to see its keys: type, keyid, owner, and the evidence that the
key was generated inside the token and can never leave it (read after
logging in with l). Make a key with g, export a public key with e, prepare a
blank token with i. Next: propose the root of trust (4 on the home screen)."""
    BINDINGS = [  # noqa: RUF012
        Binding("g", "generate", "Generate key"),
        Binding("e", "export", "Export public key"),
        Binding("l", "login", "Log in: evidence"),
        Binding("i", "init", "Initialise token"),
    ]

    def body(self) -> ComposeResult:
        yield Static("Tokens present (they follow the readers by themselves):", classes="dim")
        table: DataTable[str] = DataTable(id="tokens", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("Keys on the selected token:", id="keys-title", classes="dim")
        keys: DataTable[str] = DataTable(id="keys", cursor_type="row")
        yield keys
        yield Static("", id="token-note", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#tokens", DataTable)
        table.add_columns("label", "serial", "model", "PIN state", "slot")
        self.query_one("#keys", DataTable).add_columns(
            "label", "type", "keyid", "owner", "evidence"
        )
        self.watch(self.app, "tokens", self._show_tokens)
        table.focus()

    def _present(self) -> list[TokenInfo]:
        return [t for t in self.ceremony_app.tokens if t.present]

    def _show_tokens(self, _tokens: Any = None) -> None:
        table = self.query_one("#tokens", DataTable)
        selected = self.selected()
        table.clear()
        for info in self._present():
            table.add_row(
                plain(info.label or "(blank)"),
                plain(info.serial or "-"),
                plain(info.model or info.manufacturer or "-"),
                plain(pin_words(info), "bold" if info.locked or info.final_try else ""),
                plain(info.slot_id),
                key=info.serial or f"slot-{info.slot_id}",
            )
        rows = [t.serial or f"slot-{t.slot_id}" for t in self._present()]
        if selected is not None and selected.serial in rows:
            table.move_cursor(row=rows.index(selected.serial))
        note = self.ceremony_app.token_problem
        if note:
            self.query_one("#token-note", Static).update(visible(note))
        self._read_keys()

    def selected(self) -> TokenInfo | None:
        table = self.query_one("#tokens", DataTable)
        present = self._present()
        if not present or table.cursor_row < 0 or table.cursor_row >= len(present):
            return None
        return present[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "tokens":
            self._read_keys()

    def _read_keys(self, pin: str | None = None) -> None:
        info = self.selected()
        if info is None or not info.initialized or not info.serial:
            self._show_keys([])
            return
        serial = info.serial
        source = (lambda _prompt: pin) if pin is not None else None
        self.ceremony_app.run_core(
            lambda: self.ceremony.token_keys(serial, source), self._show_keys, quiet=pin is None
        )

    def _show_keys(self, keys: list[KeyInfo]) -> None:
        table = self.query_one("#keys", DataTable)
        table.clear()
        for key in keys:
            table.add_row(
                plain(key.label),
                plain(key.key_type),
                plain((key.keyid or "-")[:16]),
                plain(key.owner or "-"),
                plain(evidence_words(key)),
            )

    def _need_token(self) -> TokenInfo | None:
        info = self.selected()
        if info is None or not info.initialized:
            self.ceremony_app.show_error(
                BadInput(
                    "no initialised token is selected",
                    "insert a token, choose it in the list, or initialise a blank one (i)",
                )
            )
            return None
        return info

    # ------------------------------------------------------------ actions

    def action_login(self) -> None:
        info = self._need_token()
        if info is None:
            return

        def got(pin: str | None) -> None:
            if pin is not None:
                self._read_keys(pin)

        self.app.push_screen(
            PinDialog(f"PIN for token {visible(info.name())}", pin_words(info)), got
        )

    def action_generate(self) -> None:
        info = self._need_token()
        if info is not None:
            self.app.push_screen(GenerateDialog(info), self._generate)

    def _generate(self, request: tuple[str, str, str] | None) -> None:
        info = self.selected()
        if request is None or info is None:
            return
        label, owner, key_type = request

        def got(pin: str | None) -> None:
            if pin is None:
                return
            serial = info.serial
            self.ceremony_app.run_core(
                lambda: self.ceremony.generate_key(
                    serial, key_type, label, owner or None, lambda _p: pin
                ),
                self._generated,
            )

        title = f"PIN for token {visible(info.name())} to create the key"
        self.app.push_screen(PinDialog(title, pin_words(info)), got)

    def _generated(self, generated: GeneratedKey) -> None:
        self.app.push_screen(KeyReport(generated))
        self._read_keys()

    def action_export(self) -> None:
        info = self._need_token()
        table = self.query_one("#keys", DataTable)
        if info is None or table.row_count == 0:
            return
        label = str(getattr(table.get_row_at(max(table.cursor_row, 0))[0], "plain", ""))
        self.app.push_screen(ExportKeyDialog(info, label), self._export)

    def _export(self, request: tuple[str, str, Path] | None) -> None:
        info = self.selected()
        if request is None or info is None:
            return
        label, owner, path = request

        def got(pin: str | None) -> None:
            if pin is None:
                return
            serial = info.serial

            def work() -> Path:
                key = self.ceremony.export_key(serial, label, owner or None, lambda _p: pin)
                return self.ceremony.write_public_key(key, path)

            self.ceremony_app.run_core(
                work, lambda p: self.app.notify(markup=False, message=f"Public key written to {p}")
            )

        self.app.push_screen(PinDialog(f"PIN for token {visible(info.name())}"), got)

    def action_init(self) -> None:
        blank = [t for t in self._present() if not t.initialized]
        info = self.selected()
        if blank:
            self.app.push_screen(InitDialog(None), self._init)
        elif info is not None:
            question = f"Erase token {visible(info.name())} and initialise it again?"
            detail = "Every key on it is destroyed for ever. This is recorded."

            def answered(yes: bool | None) -> None:
                if yes:
                    self.app.push_screen(InitDialog(info.serial), self._init)

            self.app.push_screen(ConfirmDialog(question, detail, "Erase"), answered)

    def _init(self, request: tuple[str, str, str, str | None] | None) -> None:
        if request is None:
            return
        label, so_pin, user_pin, selector = request
        self.ceremony_app.run_core(
            lambda: self.ceremony.init_token(
                label, so_pin, user_pin, selector=selector, erase=selector is not None
            ),
            lambda info: self.app.notify(
                markup=False, message=f"Token {visible(info.name())} initialised."
            ),
        )


class GenerateDialog(FormDialog[tuple[str, str, str] | None]):
    """Label, holder and key type for a new key on the token."""

    def __init__(self, token: TokenInfo) -> None:
        super().__init__()
        self.token = token

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"New key on token {visible(self.token.name())}", classes="title")
            yield Label("Key label on the token")
            yield Input(value="tuf-key", id="label")
            yield Label("Key holder's name (shown at every review)")
            yield Input(id="owner")
            yield Label("Key type")
            yield Select(
                [(t, t) for t in KEY_TYPES], value=KEY_TYPES[0], id="type", allow_blank=False
            )
            with Horizontal(classes="buttons"):
                yield Button("Create the key", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#owner", Input).focus()

    def _submit(self) -> None:
        label = self.query_one("#label", Input).value.strip()
        owner = self.query_one("#owner", Input).value.strip()
        key_type = str(self.query_one("#type", Select).value)
        if label:
            self.dismiss((label, owner, key_type))


class ExportKeyDialog(FormDialog[tuple[str, str, Path] | None]):
    """Where to write a key's public half."""

    def __init__(self, token: TokenInfo, label: str) -> None:
        super().__init__()
        self.token = token
        self.label = label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Export key {visible(self.label)} of {visible(self.token.name())}")
            yield Label("Holder's name (empty: as recorded on the token)")
            yield Input(id="owner")
            yield Label("Write the public key to")
            yield Input(value=f"{self.label}.pub.json", id="path")
            with Horizontal(classes="buttons"):
                yield Button("Export", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        if path:
            owner = self.query_one("#owner", Input).value.strip()
            self.dismiss((self.label, owner, Path(path)))


class InitDialog(FormDialog[tuple[str, str, str, str | None] | None]):
    """A token's new label, security officer PIN and user PIN, each typed twice."""

    SUBMIT_ON_ENTER = False  # Enter in one of five fields would send the others empty

    def __init__(self, selector: str | None) -> None:
        super().__init__()
        self.selector = selector

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Initialise a token", classes="title")
            yield Label("New label")
            yield Input(id="label")
            yield Label("Security officer PIN, twice")
            yield Input(password=True, id="so1")
            yield Input(password=True, id="so2")
            yield Label("User PIN (the holder's), twice")
            yield Input(password=True, id="pin1")
            yield Input(password=True, id="pin2")
            yield Static("", id="init-problem", classes="warning")
            with Horizontal(classes="buttons"):
                yield Button("Initialise", id="ok", variant="warning")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#label", Input).focus()

    def _values(self) -> dict[str, str]:
        return {
            name: self.query_one(f"#{name}", Input).value for name in ("so1", "so2", "pin1", "pin2")
        }

    def _clear(self) -> None:
        for name in ("so1", "so2", "pin1", "pin2"):
            self.query_one(f"#{name}", Input).value = ""

    def _submit(self) -> None:
        label = self.query_one("#label", Input).value.strip()
        values = self._values()
        self._clear()
        problem = ""
        if not label:
            problem = "Give the token a label."
        elif values["so1"] != values["so2"] or values["pin1"] != values["pin2"]:
            problem = "The PINs typed twice differ: type them again."
        elif not values["so1"] or not values["pin1"]:
            problem = "Both PINs are needed."
        if problem:
            self.query_one("#init-problem", Static).update(problem)
            return
        self.dismiss((label, values["so1"], values["pin1"], self.selector))

    def action_cancel(self) -> None:
        self._clear()
        super().action_cancel()


class KeyReport(NoticeDialog):
    """A new key: its keyid, owner and the evidence read back from the token."""

    def __init__(self, generated: GeneratedKey) -> None:
        super().__init__()
        self.generated = generated

    def compose(self) -> ComposeResult:
        info = self.generated.info
        lines = [
            f"Key {visible(info.label)} created inside token {visible(info.token.name())}.",
            f"  type:   {visible(info.key_type)}",
            f"  keyid:  {self.generated.key.keyid}",
            f"  owner:  {visible(info.owner or '-')}",
            "  evidence read back from the token:",
        ]
        if info.evidence is not None:
            for name, value in info.evidence.to_dict().items():
                lines.append(f"    {name.upper():18} {value}")
        lines.append(f"  verdict: {evidence_words(info)}")
        with Vertical(id="dialog"):
            yield Static("\n".join(lines), markup=False)
            yield Button("OK", id="ok", variant="primary")
