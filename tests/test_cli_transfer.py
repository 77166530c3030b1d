"""`ceremony export | import | receive` end to end: USB-stick directories, PNG
frames read back by zxing-cpp, the terminal player, and every refusal."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
from pathlib import Path

import pytest
from PIL import Image
from securesystemslib.formats import encode_canonical

from ceremony.config import Config
from ceremony.transfer import bundle as bundles
from ceremony.transfer import qrrender
from ceremony.transfer.bundle import Bundle, read_path, write_dir
from ceremony.transfer.frames import FountainDecoder
from ceremony.transfer.qr import bundle_from_payload
from ceremony.workspace import Workspace
from tests.conftest import USER_PIN
from tests.kit import ceremony, root_args
from tests.test_exchange import make_people, publish_root, snapshot, two_sites

zxingcpp = pytest.importorskip("zxingcpp")


@pytest.fixture
def people(lib, make_token, tmp_path, monkeypatch):
    monkeypatch.setenv("CEREMONY_PIN", USER_PIN)
    return make_people(lib, make_token, tmp_path / "keys-in")


def _hash_after(label: str, text: str) -> str:
    match = re.search(rf"{label}: ([0-9a-f]{{16}})", text)
    assert match, text
    return match.group(1)


def test_partial_signatures_through_a_usb_stick(people, workspace, tmp_path, capsys):
    other = two_sites(people, workspace, tmp_path)
    stick = tmp_path / "stick" / "from-b"
    stick.parent.mkdir()  # the stick is mounted: its parent folder exists
    capsys.readouterr()
    assert ceremony(other, "export", "--dir", str(stick), "--partial") == 0
    out = capsys.readouterr().out
    assert "staged/root.json" in out and "SHA256SUMS" in out
    sent = _hash_after("Bundle hash", out)
    assert (stick / "SHA256SUMS").is_file() and (stick / "bundle.json").is_file()
    assert (stick / "staged" / "root.json").read_bytes() == (
        other / "staged" / "root.json"
    ).read_bytes()
    assert not list(stick.parent.glob(".*partial*")), "no temporary directory left behind"

    assert ceremony(workspace, "status") == 1
    assert ceremony(workspace, "import", str(stick)) == 0
    out = capsys.readouterr().out
    assert "added: Carol" in out and _hash_after("Bundle hash", out) == sent
    assert ceremony(workspace, "status") == 0
    assert "signed:  Carol" in capsys.readouterr().out
    assert ceremony(workspace, "publish", "root") == 0

    events = [
        json.loads(line)["event"]
        for path in (workspace / "transcripts").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert "import" in events
    exported = [
        json.loads(line)
        for path in (other / "transcripts").glob("*.jsonl")
        for line in path.read_text().splitlines()
        if json.loads(line)["event"] == "export"
    ]
    assert exported[-1]["details"]["bundle_sha256"].startswith(sent)


def test_qr_png_frames_received_with_30_percent_lost(people, workspace, tmp_path, capsys):
    publish_root(people, workspace)
    frames_dir = tmp_path / "frames"
    capsys.readouterr()
    assert ceremony(workspace, "export", "--qr", str(frames_dir), "--version", "8") == 0
    out = capsys.readouterr().out
    sent = _hash_after("Transfer hash", out)
    k = int(re.search(r"K = (\d+)", out).group(1))
    frames = sorted(frames_dir.glob("frame-*.png"))
    assert k > 1 and len(frames) == -(-(k + 2) * 10 // 7)
    assert frames[0].name == "frame-0001.png"
    for path in random.Random(4).sample(frames, int(len(frames) * 0.3)):
        path.unlink()

    out_dir = tmp_path / "online" / "received"
    out_dir.parent.mkdir()
    assert ceremony(workspace, "receive", "--images", str(frames_dir), "--out", str(out_dir)) == 0
    captured = capsys.readouterr()
    assert _hash_after("Transfer hash", captured.out) == sent
    assert f"of K={k}" in captured.err and "100%" in captured.err
    received = read_path(out_dir)
    assert received.purpose == "publish"
    for item in received.files:
        ours = (workspace / item.name).read_bytes()
        if item.name.startswith("transcripts/"):
            ours = ours[: item.length]  # the record grew by the export itself since
        assert (out_dir / item.name).read_bytes() == ours == item.data, item.name

    # the same frames straight into a workspace
    assert ceremony(workspace, "import", "--qr", str(frames_dir)) == 0
    out = capsys.readouterr().out
    assert "root v1 is already published here" in out
    assert "record kept" not in out, "our own record, only shorter: nothing to keep"


def test_public_keys_through_a_bundle_file(people, workspace, tmp_path, capsys):
    holders, online = people
    assert ceremony(workspace, *root_args(holders, online)) == 0
    stick = tmp_path / "keys-out"
    assert ceremony(workspace, "export", "--dir", str(stick), "--keys") == 0
    assert ceremony(workspace, "export", "--dir", str(tmp_path / "no"), "--keys", "root") == 2
    document = tmp_path / "keys.bundle"
    document.write_bytes(read_path(stick).to_bytes())
    fresh = Workspace.create(
        tmp_path / "server-side",
        Config(repository=Workspace.open(workspace).config.repository),
        lambda *a, **k: None,
    )
    capsys.readouterr()
    assert ceremony(fresh.root, "import", str(document)) == 0
    assert capsys.readouterr().out.count("key added: keys/") == 6
    assert snapshot(fresh.keys_dir) == snapshot(workspace / "keys")
    assert ceremony(fresh.root, "import", str(document)) == 0
    assert capsys.readouterr().out.count("key already here") == 6


def test_receive_with_too_few_frames_fails_the_check(people, workspace, tmp_path, capsys):
    publish_root(people, workspace)
    frames_dir = tmp_path / "frames"
    assert ceremony(workspace, "export", "--qr", str(frames_dir), "--version", "6") == 0
    first = sorted(frames_dir.glob("*.png"))[0]
    out_dir = tmp_path / "received"
    capsys.readouterr()
    assert ceremony(workspace, "receive", "--images", str(first), "--out", str(out_dir)) == 1
    assert "before the transfer was complete" in capsys.readouterr().err
    assert not out_dir.exists()
    missing = ["--images", str(tmp_path / "nope.png"), "--out", str(out_dir)]
    assert ceremony(workspace, "receive", *missing) == 2


def test_qr_svg_and_pdf(people, workspace, tmp_path):
    publish_root(people, workspace)
    assert ceremony(workspace, "export", "--qr", str(tmp_path / "s"), "--format", "svg") == 0
    svgs = sorted((tmp_path / "s").iterdir())
    assert svgs and all(p.suffix == ".svg" for p in svgs)
    assert svgs[0].read_text().startswith("<?xml")
    args = ["export", "--qr", str(tmp_path / "p"), "--format", "pdf", "--frames", "3"]
    assert ceremony(workspace, *args) == 0
    [pdf] = (tmp_path / "p").iterdir()
    assert pdf.name == "frames.pdf" and pdf.read_bytes().startswith(b"%PDF")


class FakeClock:
    """Stands in for the time module: sleeping advances the clock at once."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.now = 1000.0
        self.naps: list[float] = []
        self.stop_after = stop_after

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds
        if len(self.naps) == self.stop_after:
            raise KeyboardInterrupt


def _symbol_lines(screen: str) -> list[str]:
    """The half-block lines of one screen the player drew, colours stripped."""
    cells = set(qrrender.UPPER + qrrender.LOWER + qrrender.FULL + qrrender.EMPTY)
    plain = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in screen.split("\n")]
    return [line for line in plain if line and set(line) <= cells]


def _raster(lines: list[str], scale: int = 4) -> Image.Image:
    """Each half-block cell as two modules, dark where the glyph is."""
    top = {qrrender.UPPER, qrrender.FULL}
    bottom = {qrrender.LOWER, qrrender.FULL}
    rows = []
    for line in lines:
        rows.append([ch in top for ch in line])
        rows.append([ch in bottom for ch in line])
    image = Image.new("L", (len(rows[0]), len(rows)), 255)
    image.putdata([0 if dark else 255 for row in rows for dark in row])
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def test_terminal_player_one_pass(people, workspace, capsys, monkeypatch):
    publish_root(people, workspace)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "50")
    clock = FakeClock()
    monkeypatch.setattr("ceremony.commands.transfer.time", clock)
    capsys.readouterr()
    assert ceremony(workspace, "export", "--qr-terminal", "--loops", "1") == 0
    out = capsys.readouterr().out
    short = re.search(r"transfer hash ([0-9a-f]{16})", out).group(1)
    k = int(re.search(r"K = (\d+)", out).group(1))
    assert qrrender.UPPER in out and qrrender.LOWER in out
    assert f"K={k}  hash {short}" in out and "\x1b[38;5;16;48;5;231m" in out
    count = -(-(k + 2) * 10 // 7)
    assert len(clock.naps) == count and f"Showed {count} codes" in out
    assert "version 18" in out  # the largest whose symbol and status line fit 100x50

    decoder = FountainDecoder()
    screens = out.split("\x1b[H")[1:]
    assert len(screens) == count
    for screen in screens:
        for text in [b.text for b in zxingcpp.read_barcodes(_raster(_symbol_lines(screen)))]:
            decoder.add(text)
    assert decoder.complete and decoder.short_hash == short
    bundle = bundle_from_payload(decoder.result())
    assert (
        bundle.file("metadata/1.root.json").data
        == (workspace / "metadata" / "1.root.json").read_bytes()
    )


def test_terminal_player_stops_on_ctrl_c(people, workspace, capsys, monkeypatch):
    publish_root(people, workspace)
    clock = FakeClock(stop_after=3)
    monkeypatch.setattr("ceremony.commands.transfer.time", clock)
    args = ["export", "--qr-terminal", "--version", "10", "--fps", "10"]
    assert ceremony(workspace, *args) == 0
    out = capsys.readouterr().out
    assert "Stopped." in out and "Showed 3 codes" in out and "\x1b[?25h" in out
    assert clock.naps == [pytest.approx(0.1)] * 3, "a steady 10 frames a second"
    records = [
        json.loads(line)
        for path in (workspace / "transcripts").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    shown = [r["details"] for r in records if r["event"] == "export"]
    assert shown[-1]["medium"] == "qr-terminal" and shown[-1]["frames"] == 3


# --------------------------------------------------------------------------
# refusals


def _partial_stick(people, workspace, tmp_path) -> Path:
    other = two_sites(people, workspace, tmp_path)
    stick = tmp_path / "stick"
    assert ceremony(other, "export", "--dir", str(stick), "--partial") == 0
    return stick


def _assert_refused(workspace: Path, path: Path, capsys, message: str) -> None:
    before = snapshot(workspace)
    capsys.readouterr()
    assert ceremony(workspace, "import", str(path)) == 2
    assert message in capsys.readouterr().err
    assert snapshot(workspace) == before, "a refused import writes nothing, not even the record"


def test_import_refuses_a_changed_file(people, workspace, tmp_path, capsys):
    stick = _partial_stick(people, workspace, tmp_path)
    staged = stick / "staged" / "root.json"
    staged.write_bytes(staged.read_bytes().replace(b'"version":1', b'"version":2'))
    _assert_refused(workspace, stick, capsys, "does not match its SHA-256")


def test_import_refuses_a_bundle_for_another_repository(people, workspace, tmp_path, capsys):
    stick = _partial_stick(people, workspace, tmp_path)
    theirs = read_path(stick)
    foreign = write_dir(Bundle("partial", "elsewhere", theirs.files), tmp_path / "foreign")
    _assert_refused(workspace, foreign, capsys, "this bundle is for repository 'elsewhere'")


def test_import_refuses_dot_dot_names_and_links(people, workspace, tmp_path, capsys):
    stick = _partial_stick(people, workspace, tmp_path)
    data = (stick / "staged" / "root.json").read_bytes()
    evil = tmp_path / "evil"
    (evil / "staged").mkdir(parents=True)
    (evil / "staged" / "root.json").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    manifest = read_path(stick).manifest()
    manifest["files"] = [{"length": len(data), "name": "staged/../../x.json", "sha256": digest}]
    raw = encode_canonical(manifest).encode()
    (evil / "bundle.json").write_bytes(raw)
    sums = f"{digest}  staged/../../x.json\n{hashlib.sha256(raw).hexdigest()}  bundle.json\n"
    (evil / "SHA256SUMS").write_text(sums)
    _assert_refused(workspace, evil, capsys, "has a '.' or '..' part")
    assert not (tmp_path / "x.json").exists()

    document = b"tuf-ceremony-bundle/1 %d\n%s\n%s" % (len(raw), raw, data)
    (tmp_path / "evil.bundle").write_bytes(document)
    _assert_refused(workspace, tmp_path / "evil.bundle", capsys, "has a '.' or '..' part")

    linked = tmp_path / "linked"
    linked.mkdir()
    for name in ("bundle.json", "SHA256SUMS"):
        (linked / name).write_bytes((stick / name).read_bytes())
    (linked / "staged").mkdir()
    os.symlink(stick / "staged" / "root.json", linked / "staged" / "root.json")
    _assert_refused(workspace, linked, capsys, "symbolic link")


def test_export_refuses_unknown_roles_before_the_record(people, workspace, capsys):
    publish_root(people, workspace)
    before = snapshot(workspace)
    assert ceremony(workspace, "export", "--dir", "/nonexistent/x", "nosuch") == 2
    assert "nosuch is not published" in capsys.readouterr().err
    assert ceremony(workspace, "export", "--dir", "x", "--frames", "3") == 2
    assert snapshot(workspace) == before


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("how", ["--dir", "--qr"])
def test_export_to_a_full_or_read_only_medium(
    people, workspace, tmp_path, capsys, monkeypatch, code, how
):
    publish_root(people, workspace)
    real = bundles._write_file
    calls = []

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(code, os.strerror(code), str(path))
        real(path, data)

    monkeypatch.setattr(bundles, "_write_file", failing)
    target = tmp_path / "stick" / "export"
    target.parent.mkdir()
    capsys.readouterr()
    args = ["export", how, str(target)] + (["--version", "8"] if how == "--qr" else [])
    assert ceremony(workspace, *args) == 2
    err = capsys.readouterr().err
    assert ("full" if code == errno.ENOSPC else "read-only") in err
    assert "the export was not written" in err
    assert len(calls) == 2
    assert not target.exists()
    assert list(target.parent.iterdir()) == [], "no partial directory left behind"


def test_receive_refuses_a_used_output_directory(tmp_path, capsys):
    out = tmp_path / "used"
    out.mkdir()
    (out / "file").write_text("x")
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    assert ceremony(tmp_path, "receive", "--images", str(image), "--out", str(out)) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["--dir", "--qr"])
def test_export_to_a_stick_that_is_not_mounted(people, workspace, tmp_path, capsys, how):
    publish_root(people, workspace)
    missing = tmp_path / "media" / "usb"
    before = snapshot(workspace)
    capsys.readouterr()
    assert ceremony(workspace, "export", how, str(missing / "out")) == 2
    err = capsys.readouterr().err
    assert f"the folder {missing} does not exist: is the USB stick mounted?" in err
    assert "What to do:" in err
    assert not (tmp_path / "media").exists(), "no folder made on the laptop's disk"
    assert snapshot(workspace) == before, "refused before the record opened"


def test_receive_to_a_stick_that_is_not_mounted(tmp_path, capsys):
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    missing = tmp_path / "media" / "usb"
    args = ["receive", "--images", str(image), "--out", str(missing / "in")]
    assert ceremony(tmp_path, *args) == 2
    assert "is the USB stick mounted?" in capsys.readouterr().err
    assert not (tmp_path / "media").exists()


def test_receive_with_a_stray_frame_first_reports_it(people, workspace, tmp_path, capsys):
    from ceremony.transfer.frames import FountainEncoder

    publish_root(people, workspace)
    frames_dir = tmp_path / "frames"
    assert ceremony(workspace, "export", "--qr", str(frames_dir), "--version", "8") == 0
    sent = _hash_after("Transfer hash", capsys.readouterr().out)
    stray = FountainEncoder(os.urandom(2000), version=8)
    matrix = qrrender.qr_matrix(stray.frame(0), version=8)
    (frames_dir / "frame-0000.png").write_bytes(qrrender.render_png(matrix))  # seen first
    out_dir = tmp_path / "received"
    assert ceremony(workspace, "receive", "--images", str(frames_dir), "--out", str(out_dir)) == 0
    out = capsys.readouterr().out
    assert _hash_after("Transfer hash", out) == sent
    assert f"also seen, and ignored: transfer {stray.transfer_id}: 1 of {stray.k} symbols" in out
    assert read_path(out_dir).purpose == "publish"
