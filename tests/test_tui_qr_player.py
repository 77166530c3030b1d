"""The QR player widget: real frames, decoded from what the widget paints."""

from __future__ import annotations

import asyncio
import os

import zxingcpp
from PIL import Image
from textual.app import App, ComposeResult

from ceremony.transfer import qr, qrrender
from ceremony.transfer.bundle import Bundle, BundleFile
from ceremony.transfer.frames import FountainDecoder
from tui.widgets.qr_player import QrPlayer

BUNDLE = Bundle("keys", "player-test", [BundleFile("keys/random.bin", os.urandom(1500))])


class PlayerApp(App):
    def __init__(self, **options) -> None:
        super().__init__()
        self.options = options

    def compose(self) -> ComposeResult:
        yield QrPlayer(BUNDLE, **self.options)


def _modules(cells: list[str]) -> Image.Image:
    pairs = {
        qrrender.UPPER: (True, False),
        qrrender.LOWER: (False, True),
        qrrender.FULL: (True, True),
        qrrender.EMPTY: (False, False),
    }
    rows: list[list[bool]] = []
    for line in cells:
        decoded = [pairs[c] for c in line]
        rows.append([top for top, _ in decoded])
        rows.append([bottom for _, bottom in decoded])
    image = Image.new("L", (len(rows[0]), len(rows)), 255)
    image.putdata([0 if dark else 255 for row in rows for dark in row])
    return image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)


def test_player_frames_decode_and_rebuild_the_payload() -> None:
    asyncio.run(_play_and_decode())


async def _play_and_decode() -> None:
    app = PlayerApp(fps=50.0)
    async with app.run_test(size=(100, 60)) as pilot:
        player = app.query_one(QrPlayer)
        assert player.encoder is not None
        # the largest version that fits 100x60 with the status line below
        width, height = qrrender.terminal_size_for(player.encoder.version)
        assert width <= 100 and height + 2 <= 60
        assert qrrender.terminal_size_for(player.encoder.version + 1)[0] > 100 or (
            qrrender.terminal_size_for(player.encoder.version + 1)[1] + 2 > 60
        )
        decoder = FountainDecoder()
        seen = set()
        for _ in range(200):
            if decoder.complete:
                break
            number = player.frame_number
            if number not in seen:
                seen.add(number)
                found = zxingcpp.read_barcodes(
                    _modules(player.cells), formats=zxingcpp.BarcodeFormat.QRCode
                )
                assert found, f"frame {number} painted by the widget is not readable"
                decoder.add(found[0].text)
            await pilot.pause(0.03)
        assert decoder.complete, "frames painted by the widget rebuild the payload"
        assert qr.bundle_from_payload(decoder.result()).to_bytes() == BUNDLE.to_bytes()
        assert player.encoder.short_hash in player.status()
        assert f"K={player.encoder.k}" in player.status()
