"""Drawing frames as QR symbols: PNG, SVG, a printable PDF, and the terminal.

Every output is dark modules on a light background with a quiet zone, drawn
from one module matrix, so what the tests decode is what people scan. The
symbol is always built in alphanumeric mode at the version asked for: the
frames were sized to fill exactly that version, and a reader gets the text
back unchanged.

    qr_matrix(text, *, version, ecc="L", mask=None) -> Matrix
    alnum_codewords(text, version, ecc) -> list[int]
    best_mask(qr: qrcode.QRCode) -> int
    to_image(matrix, *, scale=4, border=4) -> PIL.Image.Image
    render_png(matrix, *, scale=4, border=4) -> bytes
    render_svg(matrix, *, scale=4, border=4) -> str
    render_pdf(matrices, *, captions=None, title="", per_page=1, border=4) -> bytes
    render_terminal(matrix, *, border=2, colors="256") -> list[str]
    terminal_cells(matrix, *, border=2) -> list[str]   (no colours, for Textual)
    terminal_size_for(version, *, border=2) -> tuple[int, int]
    largest_version_for_terminal(columns, lines, *, border=2, reserved_lines=0) -> int
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from PIL import Image
from qrcode import QRCode
from qrcode import base as qr_base
from qrcode import constants as qr_constants
from qrcode import util as qr_util

from ceremony.errors import TransferError
from ceremony.transfer import base45

if TYPE_CHECKING:
    from fpdf import FPDF

Matrix = list[list[bool]]
"""Rows of modules, True for dark, without the quiet zone."""

MIN_BORDER = 2
"""Light modules around a symbol; ISO asks for 4, readers cope with 2."""

_ECC = {
    "L": qr_constants.ERROR_CORRECT_L,
    "M": qr_constants.ERROR_CORRECT_M,
    "Q": qr_constants.ERROR_CORRECT_Q,
    "H": qr_constants.ERROR_CORRECT_H,
}
_ALNUM = frozenset(base45.ALPHABET)


def qr_matrix(text: str, *, version: int, ecc: str = "L", mask: int | None = None) -> Matrix:
    """Build the symbol for one frame, refusing to grow past `version`.

    `mask` fixes the mask pattern (0-7) and skips scoring all eight, which
    is two thirds of the time at high versions; by default the best is used.
    """
    level = _ECC.get(ecc.upper())
    if level is None or not 1 <= version <= 40 or mask not in (None, *range(8)):
        raise TransferError(
            f"QR version {version}, ECC {ecc!r}, mask {mask} is not possible",
            "use versions 1-40, ECC L or M, masks 0-7",
        )
    if not set(text) <= _ALNUM:
        raise TransferError(
            "the text has characters outside QR alphanumeric mode",
            "pass frames produced by ceremony.transfer.frames",
        )
    qr = QRCode(version=version, error_correction=level, border=0)
    # Our own codewords and mask choice: the library's pure-Python Reed-Solomon
    # and mask scoring take ~0.5 s a symbol at version 40, too slow to play
    # large symbols at 5 frames a second, and qrcode 8.2's fails outright on an
    # all-zero block (short payloads at high versions). The tests check that
    # both give the same symbols wherever the library works.
    qr.data_cache = alnum_codewords(text, version, ecc)
    qr.makeImpl(False, best_mask(qr) if mask is None else mask)
    return [[bool(cell) for cell in row] for row in qr.modules]


def alnum_codewords(text: str, version: int, ecc: str) -> list[int]:
    """Data and error correction codewords, interleaved, for alphanumeric `text`.

    Same result as qrcode.util.create_data (the tests compare them), with a
    table-driven Reed-Solomon encoder.
    """
    blocks = qr_base.rs_blocks(version, _ECC[ecc.upper()])
    capacity = sum(block.data_count for block in blocks)
    data = _alnum_bits(text, version, capacity * 8)
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_rs_remainder(chunk, block.total_count - block.data_count))
    return _interleave(data_blocks) + _interleave(ec_blocks)


def _alnum_bits(text: str, version: int, limit: int) -> list[int]:
    values = [base45.ALPHABET.index(c) for c in text]
    # types-qrcode declares MODE_* as Final[int], not as the literals they are
    count_bits = qr_util.length_in_bits(qr_util.MODE_ALPHA_NUM, version)  # type: ignore[arg-type]
    bits = [(0b0010, 4), (len(text), count_bits)]
    bits += [(values[i] * 45 + values[i + 1], 11) for i in range(0, len(values) - 1, 2)]
    if len(values) % 2:
        bits.append((values[-1], 6))
    number, length = 0, 0
    for value, width in bits:
        number, length = (number << width) | value, length + width
    if length > limit:
        raise TransferError(
            f"{len(text)} characters do not fit QR version {version}",
            "encode the frames for this version, or choose a larger one",
        )
    pad = min(4, limit - length) + (-(length + min(4, limit - length))) % 8
    number, length = number << pad, length + pad
    words = list(number.to_bytes(length // 8, "big"))
    filler = [0xEC, 0x11] * (limit // 16 + 1)
    return words + filler[: limit // 8 - len(words)]


_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i], _LOG[_x] = _x, _i
    _x = (_x << 1) ^ (0x11D if _x & 0x80 else 0)
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]
_GENERATORS: dict[int, list[int]] = {}


def _generator(degree: int) -> list[int]:
    """Coefficients (as logs) of prod(x - a^i), highest term dropped."""
    if degree not in _GENERATORS:
        poly = [1]
        for i in range(degree):
            nxt = [*poly, 0]
            for j, coefficient in enumerate(poly):
                if coefficient:
                    nxt[j + 1] ^= _EXP[_LOG[coefficient] + i]
            poly = nxt
        _GENERATORS[degree] = [_LOG[c] for c in poly[1:]]
    return _GENERATORS[degree]


def _rs_remainder(data: list[int], degree: int) -> list[int]:
    generator = _generator(degree)
    remainder = [0] * degree
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = [*remainder[1:], 0]
        if factor:
            log = _LOG[factor]
            remainder = [r ^ _EXP[g + log] for r, g in zip(remainder, generator, strict=True)]
    return remainder


def _interleave(blocks: list[list[int]]) -> list[int]:
    longest = max(len(block) for block in blocks)
    return [block[i] for i in range(longest) for block in blocks if i < len(block)]


_RUN = re.compile(r"0{5,}|1{5,}")
_FINDER_LIKE = re.compile(r"(?=10111010000|00001011101)")


@functools.cache
def _layout(version: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Per row, as bits (column c is bit n-1-c): data modules, and each mask's pattern."""
    size = 17 + 4 * version
    scratch = QRCode(version=version, border=0)
    scratch.modules_count = size
    scratch.modules = [[None] * size for _ in range(size)]
    scratch.setup_position_probe_pattern(0, 0)
    scratch.setup_position_probe_pattern(size - 7, 0)
    scratch.setup_position_probe_pattern(0, size - 7)
    scratch.setup_position_adjust_pattern()
    scratch.setup_timing_pattern()
    scratch.setup_type_info(True, 0)
    if version >= 7:
        scratch.setup_type_number(True)
    data = tuple(_bits(cell is None for cell in row) for row in scratch.modules)
    masks = tuple(
        tuple(_bits(bool(func(i, j)) for j in range(size)) & data[i] for i in range(size))
        for func in (qr_util.mask_func(m) for m in range(8))
    )
    return data, masks


def _bits(cells: Iterable[bool]) -> int:
    value = 0
    for cell in cells:
        value = (value << 1) | cell
    return value


def best_mask(qr: QRCode) -> int:
    """The mask pattern the qrcode library would choose, scored faster.

    Same rules as qrcode.util.lost_point (ISO/IEC 18004 penalties N1-N4,
    format areas left light while scoring); the data is placed once and
    each mask is applied to whole rows as integers.
    """
    qr.makeImpl(True, 0)
    size = qr.modules_count
    data, masks = _layout(qr.version)
    rows = [_bits(bool(cell) for cell in row) for row in qr.modules]
    fixed = [row & ~d for row, d in zip(rows, data, strict=True)]
    plain = [(row & d) ^ m for row, d, m in zip(rows, data, masks[0], strict=True)]
    scores = [
        _penalty([f | (p ^ m) for f, p, m in zip(fixed, plain, mask, strict=True)], size)
        for mask in masks
    ]
    return scores.index(min(scores))


def _penalty(rows: list[int], size: int) -> int:
    lines = [format(row, f"0{size}b") for row in rows]
    lines += ["".join(column) for column in zip(*lines, strict=True)]
    runs = sum(len(run) - 2 for line in lines for run in _RUN.findall(line))
    finders = 40 * sum(len(_FINDER_LIKE.findall(line)) for line in lines)
    full = (1 << size) - 1
    blocks = 0
    for top, bottom in itertools.pairwise(rows):
        same = ~(top ^ bottom) & full
        level = ~(top ^ (top >> 1)) & (full >> 1)
        blocks += (same & (same >> 1) & level).bit_count()
    dark = sum(row.bit_count() for row in rows)
    balance = int(abs(float(dark) / size**2 * 100 - 50) / 5) * 10
    return runs + 3 * blocks + finders + balance


def _check_border(border: int) -> None:
    if border < MIN_BORDER:
        raise TransferError(
            f"a quiet zone of {border} modules is too narrow for readers",
            f"use at least {MIN_BORDER}",
        )


def _with_border(matrix: Matrix, border: int) -> Matrix:
    _check_border(border)
    width = len(matrix) + 2 * border
    blank = [False] * width
    middle = [[False] * border + row + [False] * border for row in matrix]
    return [blank[:] for _ in range(border)] + middle + [blank[:] for _ in range(border)]


def to_image(matrix: Matrix, *, scale: int = 4, border: int = 4) -> Image.Image:
    """A black-on-white bilevel image, `scale` pixels per module."""
    full = _with_border(matrix, border)
    size = len(full)
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if dark else 1 for row in full for dark in row])
    if scale != 1:
        image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    return image


def render_png(matrix: Matrix, *, scale: int = 4, border: int = 4) -> bytes:
    """PNG file contents for one symbol."""
    buffer = io.BytesIO()
    to_image(matrix, scale=scale, border=border).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _runs(row: list[bool]) -> Iterator[tuple[int, int]]:
    """(start, length) of each horizontal run of dark modules."""
    start = None
    for x, dark in enumerate([*row, False]):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            yield start, x - start
            start = None


def render_svg(matrix: Matrix, *, scale: int = 4, border: int = 4) -> str:
    """A standalone SVG drawing the dark modules as one path over a white square."""
    _check_border(border)
    size = len(matrix) + 2 * border
    path = "".join(
        f"M{border + x} {border + y}h{n}v1h-{n}z"
        for y, row in enumerate(matrix)
        for x, n in _runs(row)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * scale}" '
        f'height="{size * scale}" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#ffffff"/>'
        f'<path fill="#000000" d="{path}"/></svg>\n'
    )


def render_pdf(
    matrices: Sequence[Matrix],
    *,
    captions: Sequence[str] | None = None,
    title: str = "",
    per_page: int = 1,
    border: int = 4,
) -> bytes:
    """A printable A4 PDF with `per_page` symbols a page, drawn as vector shapes.

    Vector modules stay sharp at any printer resolution; the caption under
    each symbol (frame number, K, short hash) lets people check the stack.
    The PDF library is loaded here, by the only function that needs it.
    """
    from fpdf import FPDF

    _check_border(border)
    if per_page < 1:
        raise TransferError("per_page must be at least 1", "use 1, 2, 4 or 6")
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(_latin1(title or "QR transfer"))
    cols = 1 if per_page == 1 else 2
    rows = math.ceil(per_page / cols)
    cell_w, cell_h = (210 - 20) / cols, (297 - 30) / rows
    for index, matrix in enumerate(matrices):
        slot = index % per_page
        if slot == 0:
            _new_page(pdf, title)
        x0 = 10 + (slot % cols) * cell_w
        y0 = 20 + (slot // cols) * cell_h
        side = min(cell_w, cell_h - 10)
        _draw_symbol(pdf, matrix, x0 + (cell_w - side) / 2, y0, side, border)
        if captions is not None:
            pdf.set_xy(x0, y0 + side + 1)
            pdf.cell(cell_w, 6, _latin1(captions[index]), align="C")
    return bytes(pdf.output())


def _new_page(pdf: FPDF, title: str) -> None:
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    if title:
        pdf.set_xy(10, 8)
        pdf.cell(190, 6, _latin1(title), align="C")


def _draw_symbol(pdf: FPDF, matrix: Matrix, x: float, y: float, side: float, border: int) -> None:
    module = side / (len(matrix) + 2 * border)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, side, side, style="F")
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        top = y + (border + row_index) * module
        for start, length in _runs(row):
            pdf.rect(x + (border + start) * module, top, length * module, module, style="F")


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


# --- terminal ------------------------------------------------------------------

UPPER, LOWER, FULL, EMPTY = "\u2580", "\u2584", "\u2588", " "
"""Half-block cells: top dark, bottom dark, both dark, both light."""

_CELL = {(True, False): UPPER, (False, True): LOWER, (True, True): FULL, (False, False): EMPTY}
_COLOURS = {
    "256": "\x1b[38;5;16;48;5;231m",  # pure black on pure white, xterm 256-colour cube
    "16": "\x1b[30;107m",  # black on bright white, for consoles without 256 colours
    "truecolor": "\x1b[38;2;0;0;0;48;2;255;255;255m",
}
RESET = "\x1b[0m"


def terminal_cells(matrix: Matrix, *, border: int = 2) -> list[str]:
    """Uncoloured lines of half-block cells, for front ends that colour them (Textual).

    One module per column, two module rows per line; the glyphs are the dark
    parts, so they must be drawn dark on a light background.
    """
    full = _with_border(matrix, border)
    if len(full) % 2:
        full.append([False] * len(full[0]))
    return [
        "".join(_CELL[pair] for pair in zip(top, bottom, strict=True))
        for top, bottom in zip(full[::2], full[1::2], strict=True)
    ]


def render_terminal(matrix: Matrix, *, border: int = 2, colors: str = "256") -> list[str]:
    """Lines for a plain terminal, with the colours set explicitly on every line.

    Black glyphs on a white background whatever the terminal's theme, so a
    dark theme cannot invert the symbol; the quiet zone is drawn as white
    cells rather than trusting the terminal's own background.
    """
    if colors not in _COLOURS:
        raise TransferError(f"unknown colour mode {colors!r}", "use 256, 16 or truecolor")
    start = _COLOURS[colors]
    return [start + line + RESET for line in terminal_cells(matrix, border=border)]


def terminal_size_for(version: int, *, border: int = 2) -> tuple[int, int]:
    """(columns, lines) a symbol of `version` takes in the terminal."""
    modules = 17 + 4 * version + 2 * border
    return modules, math.ceil(modules / 2)


def largest_version_for_terminal(
    columns: int, lines: int, *, border: int = 2, reserved_lines: int = 0
) -> int:
    """The largest QR version whose symbol and quiet zone fit the window.

    `reserved_lines` keeps room for the status line under the symbol.
    """
    for version in range(40, 1, -1):
        width, height = terminal_size_for(version, border=border)
        if width <= columns and height + reserved_lines <= lines:
            return version
    width, height = terminal_size_for(2, border=border)
    raise TransferError(
        f"a {columns}x{lines} terminal cannot show a QR symbol",
        f"enlarge the window to at least {width} columns and {height + reserved_lines} lines",
    )
