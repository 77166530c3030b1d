"""The status bar every screen shows: where we are, what is plugged in, what is recorded.

Two lines: the workspace, the PKCS#11 module and the tokens present; then
the open ceremony record with its head hash as words, and the network
state from the preflight. A network that is up stands out in words as
well as colour, whether the ceremony was refused or the override recorded.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from ceremony.text import visible
from ceremony.words import short_words


def _tail(path: Path, width: int) -> str:
    text = visible(str(path))
    return text if len(text) <= width else "…" + text[-(width - 1) :]


class StatusBar(Static):
    """Workspace, module, tokens, record and network, always visible."""

    DEFAULT_CSS = """
    StatusBar {
        dock: top;
        height: 2;
        padding: 0 1;
    }
    """

    def on_mount(self) -> None:
        app = self.app
        for name in ("tokens", "preflight", "record"):
            self.watch(app, name, lambda _value: self.refresh_text(), init=False)
        self.refresh_text()

    def on_resize(self) -> None:
        self.refresh_text()

    def refresh_text(self) -> None:
        self.update(self.text())

    def text(self) -> Text:
        app = self.app
        ceremony = app.ceremony  # type: ignore[attr-defined]
        width = max(self.size.width - 2, 40)
        module = ceremony.optional_module_path()
        module_name = module.name if module is not None else "NO MODULE"
        present = [t for t in app.tokens if t.present and t.initialized]  # type: ignore[attr-defined]
        problem = app.token_problem  # type: ignore[attr-defined]
        tokens = f"{len(present)} tokens" if problem is None else "tokens NOT READABLE"
        tail = Text(f" · {tokens} · ")
        tail.append_text(self._network_text())
        if width - len(tail.plain) - len(module_name) - 3 >= 12:
            tail = Text(f" · {visible(module_name)}").append_text(tail)
        line1 = Text()
        line1.append(_tail(ceremony.path, max(width - len(tail.plain), 8)), style="bold")
        line1.append_text(tail)
        line1.truncate(width)
        line2 = self._record_text()
        line2.truncate(width)
        return Text("\n").join([line1, line2])

    def _record_text(self) -> Text:
        info = self.app.record  # type: ignore[attr-defined]
        text = Text()
        text.append("Record: ", style="bold")
        if info is None:
            text.append("none open", style="dim")
        elif info.problem:
            text.append("BROKEN", style="bold red")
        else:
            state = "closed" if info.closed else "open"
            assert info.head_hash is not None
            words = short_words(info.head_hash[:12], 4)
            title = visible(info.title)[:28]
            text.append(f"{title} ({state}, {info.records} records) · head: {words}")
        return text

    def _network_text(self) -> Text:
        report = self.app.preflight  # type: ignore[attr-defined]
        ceremony = self.app.ceremony  # type: ignore[attr-defined]
        text = Text()
        text.append("Network ", style="bold")
        if report is None:
            text.append("checking…", style="dim")
        elif not report.network_up:
            text.append("offline", style="green")
        elif ceremony.allow_network:
            text.append("UP (override recorded)", style="bold black on yellow")
        else:
            text.append("UP: changes refused", style="bold white on red")
        return text
