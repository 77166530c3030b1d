"""QR rendering: exact versions, quiet zone, dark on light, and what a reader sees."""

from __future__ import annotations

import io
import random
import re
import zlib

import pytest
from PIL import Image, ImageDraw
from qrcode import QRCode
from qrcode import util as qr_util

from ceremony.errors import TransferError
from ceremony.transfer import base45, qrrender
from ceremony.transfer.frames import FountainEncoder, capacity_alnum, frame_chars

zxingcpp = pytest.importorskip("zxingcpp")


def _read(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def _frame(version: int, ecc: str = "L", size: int = 3000) -> str:
    payload = random.Random(version).randbytes(size)
    return FountainEncoder(payload, version=version, ecc=ecc).frame(5)


@pytest.mark.parametrize("version", [1, 9, 10, 26, 27, 40])
@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
def test_codewords_match_the_qrcode_library(version: int, ecc: str) -> None:
    rng = random.Random(version)
    capacity = capacity_alnum(version, ecc)
    for length in (0, 1, capacity - 1, capacity, rng.randrange(capacity)):
        text = "".join(rng.choice(base45.ALPHABET) for _ in range(length))
        data = qr_util.QRData(text.encode(), mode=qr_util.MODE_ALPHA_NUM)
        expected = qr_util.create_data(version, qrrender._ECC[ecc], [data])
        assert qrrender.alnum_codewords(text, version, ecc) == expected


@pytest.mark.parametrize(("version", "ecc"), [(2, "L"), (10, "L"), (10, "M"), (17, "L"), (25, "M")])
def test_frame_encodes_at_exactly_its_version(version: int, ecc: str) -> None:
    text = _frame(version, ecc)
    assert len(text) == frame_chars(version, ecc)
    matrix = qrrender.qr_matrix(text, version=version, ecc=ecc)
    assert len(matrix) == 17 + 4 * version
    image = Image.open(io.BytesIO(qrrender.render_png(matrix, scale=3)))
    (found,) = _read(image)
    assert found.text == text
    assert found.extra["Version"] == str(version)
    assert found.extra["ECLevel"] == ecc


def _library_matrix(text: str, version: int, ecc: str) -> list[list[bool]] | None:
    qr = QRCode(version=version, error_correction=qrrender._ECC[ecc], border=0)
    qr.add_data(qr_util.QRData(text.encode(), mode=qr_util.MODE_ALPHA_NUM))
    try:
        qr.make(fit=False)
    except ValueError:  # qrcode 8.2's Reed-Solomon fails on some data (glog(0))
        return None
    return [[bool(cell) for cell in row] for row in qr.modules]


@pytest.mark.parametrize(("version", "ecc"), [(2, "L"), (7, "M"), (13, "L"), (22, "M")])
def test_mask_choice_and_symbol_match_the_qrcode_library(version: int, ecc: str) -> None:
    encoder = FountainEncoder(random.Random(version).randbytes(3000), version=version, ecc=ecc)
    compared = 0
    for text in encoder.frames(4):
        expected = _library_matrix(text, version, ecc)
        if expected is not None:
            assert qrrender.qr_matrix(text, version=version, ecc=ecc) == expected
            compared += 1
    assert compared


def test_frames_the_library_cannot_encode_still_work() -> None:
    # A short payload leaves the source symbol mostly zero padding, so whole
    # Reed-Solomon blocks are zero: qrcode 8.2 fails on those, we must not.
    text = FountainEncoder(b"tiny", version=33).frame(0)
    if _library_matrix(text, 33, "L") is not None:
        pytest.skip("this qrcode version encodes all-zero blocks; nothing to compare")
    image = qrrender.to_image(qrrender.qr_matrix(text, version=33), scale=2)
    (found,) = _read(image)
    assert found.text == text


def test_text_beyond_the_version_is_refused() -> None:
    too_long = "A" * (capacity_alnum(10, "L") + 1)
    with pytest.raises(TransferError, match="do not fit"):
        qrrender.qr_matrix(too_long, version=10)
    with pytest.raises(TransferError, match="alphanumeric"):
        qrrender.qr_matrix("lower case", version=10)
    with pytest.raises(TransferError, match="not possible"):
        qrrender.qr_matrix("TC1", version=10, mask=8)


def test_png_has_quiet_zone_and_dark_on_light() -> None:
    matrix = qrrender.qr_matrix(_frame(10), version=10)
    scale, border = 3, 2
    image = Image.open(io.BytesIO(qrrender.render_png(matrix, scale=scale, border=border)))
    gray = image.convert("L")
    side = (len(matrix) + 2 * border) * scale
    assert gray.size == (side, side)
    quiet = border * scale
    pixels = gray.load()
    for i in range(side):
        for j in range(quiet):
            for x, y in ((i, j), (j, i), (i, side - 1 - j), (side - 1 - j, i)):
                assert pixels[x, y] == 255
    # The finder pattern's corner is dark and just inside the quiet zone.
    assert pixels[quiet, quiet] == 0
    assert pixels[quiet - 1, quiet] == 255
    histogram = gray.histogram()
    assert histogram[0] + histogram[255] == side * side
    assert histogram[255] > histogram[0]  # the light background dominates


def test_quiet_zone_below_two_modules_is_refused() -> None:
    matrix = qrrender.qr_matrix(_frame(5), version=5)
    with pytest.raises(TransferError):
        qrrender.render_png(matrix, border=1)
    with pytest.raises(TransferError):
        qrrender.render_terminal(matrix, border=1)


def test_svg_draws_exactly_the_matrix() -> None:
    matrix = qrrender.qr_matrix(_frame(7), version=7)
    border = 4
    svg = qrrender.render_svg(matrix, scale=2, border=border)
    assert 'fill="#ffffff"' in svg and 'fill="#000000"' in svg
    size = len(matrix) + 2 * border
    assert f'viewBox="0 0 {size} {size}"' in svg
    drawn = [[False] * len(matrix) for _ in matrix]
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        for dx in range(int(n)):
            drawn[int(y) - border][int(x) - border + dx] = True
    assert drawn == matrix


_PDF_OPS = re.compile(r"(1 1 1 rg|0 g)|([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) re f")


def _pdf_pages(pdf: bytes) -> list[Image.Image]:
    """Rasterise our PDF's filled rectangles, 1 pixel a point, one image a page."""
    pages = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        content = zlib.decompress(stream).decode("latin-1")
        page = Image.new("L", (595, 842), 255)
        draw = ImageDraw.Draw(page)
        colour = 0
        for op in re.finditer(
            r"(1 1 1 rg|0 g)|([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) re f", content
        ):
            if op.group(1):
                colour = 255 if op.group(1) == "1 1 1 rg" else 0
                continue
            x, y, w, h = (float(v) for v in op.groups()[1:])
            box = sorted((842 - y, 842 - (y + h)))
            draw.rectangle((x, box[0], x + w - 0.01, box[1] - 0.01), fill=colour)
        pages.append(page)
    return pages


def test_pdf_pages_hold_the_symbols_in_order() -> None:
    encoder = FountainEncoder(random.Random(3).randbytes(4000), version=8)
    texts = encoder.frames(5)
    matrices = [qrrender.qr_matrix(t, version=8) for t in texts]
    captions = [f"frame {i + 1} of 5 - K={encoder.k} - {encoder.short_hash}" for i in range(5)]
    pdf = qrrender.render_pdf(matrices, captions=captions, title="transfer", per_page=2)
    assert pdf.startswith(b"%PDF")
    pages = _pdf_pages(pdf)
    assert len(pages) == 3
    read = [sorted(b.text for b in _read(page)) for page in pages]
    assert read == [sorted(texts[0:2]), sorted(texts[2:4]), [texts[4]]]
    (single,) = _pdf_pages(qrrender.render_pdf(matrices[:1]))
    assert [b.text for b in _read(single)] == texts[:1]


def _rasterise(lines: list[str], scale: int) -> tuple[list[list[bool]], Image.Image]:
    """Turn half-block cells back into modules, and the modules into pixels."""
    cells = {
        qrrender.UPPER: (True, False),
        qrrender.LOWER: (False, True),
        qrrender.FULL: (True, True),
        qrrender.EMPTY: (False, False),
    }
    modules: list[list[bool]] = []
    for line in lines:
        assert line.startswith("\x1b[") and line.endswith(qrrender.RESET)
        body = re.sub(r"\x1b\[[0-9;]*m", "", line)
        pairs = [cells[c] for c in body]
        modules.append([top for top, _ in pairs])
        modules.append([bottom for _, bottom in pairs])
    height, width = len(modules), len(modules[0])
    image = Image.new("L", (width, height), 255)
    image.putdata([0 if dark else 255 for row in modules for dark in row])
    return modules, image.resize((width * scale, height * scale), Image.Resampling.NEAREST)


@pytest.mark.parametrize(("version", "colors"), [(3, "256"), (12, "16"), (24, "truecolor")])
def test_terminal_rendering_rasterised_decodes(version: int, colors: str) -> None:
    text = _frame(version)
    matrix = qrrender.qr_matrix(text, version=version)
    lines = qrrender.render_terminal(matrix, border=2, colors=colors)
    columns, rows = qrrender.terminal_size_for(version, border=2)
    assert len(lines) == rows
    modules, image = _rasterise(lines, scale=4)
    assert all(len(row) == columns for row in modules)
    for row in modules[:2] + modules[2 + len(matrix) :]:
        assert not any(row)  # quiet zone above and below, light
    for row in modules[2 : 2 + len(matrix)]:
        assert not any(row[:2] + row[-2:])
    assert [row[2:-2] for row in modules[2 : 2 + len(matrix)]] == matrix
    plain = qrrender.terminal_cells(matrix, border=2)
    assert [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines] == plain
    (found,) = _read(image)
    assert found.text == text


def test_largest_version_for_terminal() -> None:
    assert qrrender.largest_version_for_terminal(80, 24) == 6
    assert qrrender.largest_version_for_terminal(200, 60) == 24
    assert qrrender.largest_version_for_terminal(200, 60, reserved_lines=2) == 23
    assert qrrender.largest_version_for_terminal(400, 200) == 40
    for columns, lines in [(80, 24), (120, 40), (57, 80)]:
        version = qrrender.largest_version_for_terminal(columns, lines)
        width, height = qrrender.terminal_size_for(version)
        assert width <= columns and height <= lines
        bigger = qrrender.terminal_size_for(version + 1)
        assert bigger[0] > columns or bigger[1] > lines
    with pytest.raises(TransferError, match="cannot show") as caught:
        qrrender.largest_version_for_terminal(20, 10)
    assert caught.value.fix is not None and "enlarge" in caught.value.fix


def test_unknown_colour_mode_is_refused() -> None:
    with pytest.raises(TransferError):
        qrrender.render_terminal(qrrender.qr_matrix("TC1", version=1), colors="pink")
