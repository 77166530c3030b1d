"""Export as animated QR in the app, read back from the rendered screen.

The screen's own rendered lines (what the terminal shows) are rasterised,
half-block by half-block, decoded with zxing-cpp and fed to the fountain
decoder; the bundle they rebuild carries exactly the files that
`ceremony export --dir` writes.
"""

from __future__ import annotations

import asyncio

import zxingcpp
from PIL import Image

from ceremony.transfer import qr, qrrender
from ceremony.transfer.bundle import read_path
from ceremony.transfer.frames import FountainDecoder
from tests.conftest import USER_PIN
from tests.kit import ceremony as cli
from tests.kit import make_people, review, root_args
from tests.test_tui_app import make_app, until
from tui.screens.transfer import QrScreen
from tui.widgets.qr_player import QrPlayer


def _image(lines: list[str]) -> Image.Image:
    pairs = {
        qrrender.UPPER: (True, False),
        qrrender.LOWER: (False, True),
        qrrender.FULL: (True, True),
    }
    rows: list[list[bool]] = []
    for line in lines:
        cells = [pairs.get(c, (False, False)) for c in line]
        rows.append([top for top, _ in cells])
        rows.append([bottom for _, bottom in cells])
    image = Image.new("L", (len(rows[0]), len(rows)), 255)
    image.putdata([0 if dark else 255 for row in rows for dark in row])
    return image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)


def _screen_cells(app, player: QrPlayer) -> list[str]:
    """The QR symbol as the screen shows it: the player's region of the rendered lines."""
    strips = app.screen._compositor.render_strips()
    region = player.region
    height, width = len(player.cells), len(player.cells[0])
    return [strips[y].text[region.x : region.x + width] for y in range(region.y, region.y + height)]


def test_qr_on_screen_rebuilds_the_export(lib, make_token, tmp_path, monkeypatch):
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    holders, online = make_people(lib, make_token, tmp_path / "keys-in")
    workspace = tmp_path / "ws"
    assert cli(workspace, *root_args(holders, online)) == 0
    review(workspace, "root")
    for holder in holders[:2]:
        assert cli(workspace, "sign", "root", "--token", holder.token) == 0
    assert cli(workspace, "publish", "root") == 0
    received = asyncio.run(_play_and_read(workspace))
    assert cli(workspace, "export", "--dir", str(tmp_path / "stick")) == 0
    on_stick = read_path(tmp_path / "stick")
    assert received.purpose == on_stick.purpose and received.repository == on_stick.repository
    metadata = {f.name: f.data for f in on_stick.files if f.name.startswith("metadata/")}
    assert {f.name: f.data for f in received.files if f.name.startswith("metadata/")} == metadata
    ours = {f.name: f.data for f in on_stick.files if f.name.startswith("transcripts/")}
    for item in received.files:
        if item.name.startswith("transcripts/"):  # the record only grew since
            assert ours[item.name].startswith(item.data)


async def _play_and_read(workspace):
    app = make_app(workspace)
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.press("6")
        await until(pilot, lambda: app.screen.query("#export-qr-button"), "the export screen")
        await pilot.press("ctrl+g")
        await until(
            pilot,
            lambda: isinstance(app.screen, QrScreen) and app.screen.query(QrPlayer),
            "the QR screen",
        )
        player = app.screen.query_one(QrPlayer)
        await until(pilot, lambda: player.encoder is not None and player.cells, "a code")
        decoder = FountainDecoder()
        read: set[int] = set()
        for _ in range(600):
            if decoder.complete:
                break
            if player.frame_number not in read:
                read.add(player.frame_number)
                found = zxingcpp.read_barcodes(
                    _image(_screen_cells(app, player)), formats=zxingcpp.BarcodeFormat.QRCode
                )
                assert found, f"code {player.frame_number} on the screen does not scan"
                decoder.add(found[0].text)
            await pilot.pause(0.05)
        assert decoder.complete, "the codes on the screen rebuild the bundle"
        assert player.encoder is not None and player.encoder.short_hash in player.status()
        await pilot.press("escape")
        await pilot.pause(0.5)
    return qr.bundle_from_payload(decoder.result())
