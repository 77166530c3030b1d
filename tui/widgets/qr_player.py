"""An animated QR transfer inside the app.

The same frames and half-block cells as ``ceremony export --qr-terminal``
(ceremony.transfer): the widget takes the space it is given, chooses the
largest QR version that fits it, paints the cells black on white whatever
the theme, and advances a frame on a timer, looping with fresh repair
symbols. Pause, step and speed are the operator's; the status line carries
the frame number, K and the transfer's short hash for the receiving side to
compare. When even the smallest code does not fit, it says how large the
terminal must be.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from ceremony.errors import TransferError
from ceremony.transfer import qr, qrrender
from ceremony.transfer.bundle import Bundle
from ceremony.transfer.frames import FountainEncoder
from ceremony.words import short_words

QUIET_ZONE = 2
STATUS_LINES = 2
DARK_ON_LIGHT = Style(color="#000000", bgcolor="#ffffff")
SPEEDS = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0)
COMFORTABLE_K = 60
"""Above this many codes a transfer takes long enough to say a bigger window helps."""


class QrPlayer(Widget, can_focus=True):
    """Plays a bundle as fountain-coded QR frames."""

    DEFAULT_CSS = """
    QrPlayer {
        width: 1fr;
        height: 1fr;
    }
    """

    frame_number: reactive[int] = reactive(0)

    def __init__(
        self,
        bundle: Bundle,
        *,
        fps: float = 5.0,
        version: int | None = None,
        ecc: str = "L",
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.bundle = bundle
        self._payload = qr.payload_of(bundle)
        self.fps = fps
        self._asked = version
        self._ecc = ecc
        self.encoder: FountainEncoder | None = None
        self._frames: Iterator[str] | None = None
        self._cells: list[str] = []
        self.paused = False
        self.shown = 0
        self.problem: str | None = None
        self._timer: Timer | None = None

    # ------------------------------------------------------------- sizing

    def on_resize(self) -> None:
        self.refit()

    def refit(self) -> None:
        """Choose the largest version that fits the space now, and start its frames."""
        columns, lines = self.size.width, self.size.height
        if columns == 0 or lines == 0:
            return
        try:
            version = self._asked or qrrender.largest_version_for_terminal(
                columns, lines, border=QUIET_ZONE, reserved_lines=STATUS_LINES
            )
        except TransferError as error:
            self.problem = f"{error.problem}. {error.fix}."
            self.encoder = None
            self.refresh()
            return
        self.problem = None
        if self.encoder is None or self.encoder.version != version:
            self.encoder = FountainEncoder(self._payload, version=version, ecc=self._ecc)
            self._frames = self.encoder.loop()
            self.advance()
        self._restart_timer()

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_interval(1 / self.fps, self._tick)

    # ------------------------------------------------------------ playing

    def _tick(self) -> None:
        if not self.paused:
            self.advance()

    def advance(self) -> None:
        """Show the next frame."""
        if self.encoder is None or self._frames is None:
            return
        text = next(self._frames)
        matrix = qr.frame_matrix(text, self.encoder.version, self._ecc, self.shown)
        self._cells = qrrender.terminal_cells(matrix, border=QUIET_ZONE)
        self.shown += 1
        self.frame_number += 1
        self.refresh()

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.refresh()

    def step(self) -> None:
        """One frame on, paused."""
        self.paused = True
        self.advance()

    def change_speed(self, direction: int) -> None:
        index = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - self.fps))
        self.fps = SPEEDS[max(0, min(len(SPEEDS) - 1, index + direction))]
        self._restart_timer()
        self.refresh()

    # ------------------------------------------------------------ showing

    @property
    def cells(self) -> list[str]:
        """The half-block lines currently shown (dark glyphs on light)."""
        return list(self._cells)

    def status(self) -> str:
        if self.encoder is None:
            return self.problem or ""
        state = "PAUSED" if self.paused else f"{self.fps:g} codes/s"
        words = short_words(self.encoder.short_hash, 4)
        return (
            f"code {self.frame_number} | K={self.encoder.k} | {state} | "
            f"transfer {self.encoder.short_hash} ({words})"
        )

    def advice(self) -> str:
        """A bigger window, when the transfer would take long at this size."""
        if self.encoder is None or self.encoder.k <= COMFORTABLE_K:
            return f"Any {self.encoder.k if self.encoder else '?'} codes rebuild the bundle."
        width, height = qrrender.terminal_size_for(20, border=QUIET_ZONE)
        size = f"{width}x{height + STATUS_LINES + 3}"
        return (
            f"{self.encoder.k} codes at this size; a terminal of {size} shows larger codes "
            "(fewer of them): enlarge the window or press f."
        )

    def render(self) -> Text:
        text = Text()
        if self.encoder is None:
            text.append(self.problem or "Preparing the codes…")
            return text
        for line in self._cells:
            text.append(line, DARK_ON_LIGHT)
            text.append("\n")
        text.append(self.status() + "\n")
        text.append(self.advice())
        return text
