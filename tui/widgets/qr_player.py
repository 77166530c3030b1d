"""An animated QR transfer inside the guided screen.

The same frames and the same half-block cells as ``ceremony export
--qr-terminal`` (ceremony.transfer): the widget only chooses the largest
version that fits its own size, paints the cells black on white whatever
the theme, and advances a frame on a timer, looping with fresh repair
symbols. The line under the symbol carries the frame number, K and the
transfer's short hash for the receiving side to compare.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ceremony.transfer.frames import FountainEncoder, encode_payload
from ceremony.transfer.qrrender import (
    largest_version_for_terminal,
    qr_matrix,
    terminal_cells,
)

QUIET_ZONE = 2
STATUS_LINES = 1
DARK_ON_LIGHT = Style(color="#000000", bgcolor="#ffffff")


class QrPlayer(Widget):
    """Plays a payload as fountain-coded QR frames."""

    DEFAULT_CSS = """
    QrPlayer {
        width: auto;
        height: auto;
    }
    """

    frame_number: reactive[int] = reactive(0)

    def __init__(
        self,
        payload: bytes,
        *,
        fps: float = 5.0,
        version: int | None = None,
        ecc: str = "L",
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self._payload = encode_payload(payload)
        self._fps = fps
        self._version = version
        self._ecc = ecc
        self.encoder: FountainEncoder | None = None
        self._frames: Iterator[str] | None = None
        self._cells: list[str] = []

    def on_mount(self) -> None:
        version = self._version or self._fitting_version()
        self.encoder = FountainEncoder(self._payload, version=version, ecc=self._ecc)
        self._frames = self.encoder.loop()
        self.advance()
        self.set_interval(1 / self._fps, self.advance)

    def _fitting_version(self) -> int:
        size = self.app.size
        return largest_version_for_terminal(
            size.width, size.height, border=QUIET_ZONE, reserved_lines=STATUS_LINES + 2
        )

    def advance(self) -> None:
        """Show the next frame."""
        assert self.encoder is not None and self._frames is not None
        text = next(self._frames)
        matrix = qr_matrix(text, version=self.encoder.version, ecc=self._ecc)
        self._cells = terminal_cells(matrix, border=QUIET_ZONE)
        self.frame_number += 1

    @property
    def cells(self) -> list[str]:
        """The half-block lines currently shown (dark glyphs on light)."""
        return list(self._cells)

    def status(self) -> str:
        assert self.encoder is not None
        return (
            f"frame {self.frame_number} | K={self.encoder.k} | transfer {self.encoder.short_hash}"
        )

    def render(self) -> Text:
        text = Text()
        for line in self._cells:
            text.append(line, DARK_ON_LIGHT)
            text.append("\n")
        if self.encoder is not None:
            text.append(self.status())
        return text
