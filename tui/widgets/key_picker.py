"""A list of keys to choose from, where the choice shows in words, not only colour.

Each line reads "[x] Alice (8fb5aedf, ...)" or "[ ] Bob (...)"; space or
Enter toggles the highlighted key.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class KeyPicker(OptionList):
    """Keys by label; ``selected`` holds the chosen keyids, in list order."""

    BINDINGS = [  # noqa: RUF012
        Binding("space", "choose", "Choose / unchoose", show=True),
    ]

    DEFAULT_CSS = """
    KeyPicker {
        height: auto;
        max-height: 8;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, markup=False)
        self._labels: list[tuple[str, str]] = []
        self._chosen: set[str] = set()

    @property
    def selected(self) -> list[str]:
        return [keyid for keyid, _ in self._labels if keyid in self._chosen]

    def set_keys(self, labels: list[tuple[str, str]]) -> None:
        """(keyid, label) pairs; choices of keys still offered are kept."""
        self._labels = list(labels)
        self._chosen &= {keyid for keyid, _ in labels}
        self._redraw()

    def _redraw(self) -> None:
        highlighted = self.highlighted
        self.clear_options()
        for keyid, label in self._labels:
            mark = "[x]" if keyid in self._chosen else "[ ]"
            self.add_option(Option(f"{mark} {label}", id=keyid))
        if not self._labels:
            self.add_option(Option("(no keys here: give a folder above)", id="", disabled=True))
        if highlighted is not None and highlighted < self.option_count:
            self.highlighted = highlighted

    def action_choose(self) -> None:
        if self.highlighted is None or not self._labels:
            return
        keyid = self._labels[self.highlighted][0]
        self._chosen ^= {keyid}
        self._redraw()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_choose()
