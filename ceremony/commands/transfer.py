"""`ceremony export | import | receive`: carrying files across the air gap.

The air-gapped laptop exports a bundle to a USB stick (``--dir``), to QR
images (``--qr``) or plays it as animated QR codes on its screen
(``--qr-terminal``); the online side reads the codes with ``receive`` and
imports or publishes the files. Everything the bundle carries is checked by
SHA-256 on arrival, and the short hash printed on both sides lets people
confirm they hold the same thing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ceremony.commands import rstuf as rstuf_commands
from ceremony.commands._common import ceremony_of
from ceremony.errors import BadInput, CheckFailed
from ceremony.transfer import qr
from ceremony.words import short_words

if TYPE_CHECKING:
    from ceremony.transfer import exchange
    from ceremony.transfer.bundle import Bundle
    from ceremony.transfer.frames import FountainEncoder, Progress
    from ceremony.transfer.receive import Received
    from ceremony.workspace import Workspace

HIDE_CURSOR, SHOW_CURSOR, CLEAR, HOME = "\x1b[?25l", "\x1b[?25h", "\x1b[2J", "\x1b[H"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_export(sub, common)
    _register_import(sub, common)
    _register_receive(sub, common)


# --------------------------------------------------------------------------
# export


def _register_export(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    export = sub.add_parser(
        "export",
        parents=[common],
        help="write a bundle for the other side of the air gap (USB stick or QR)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Gather files to carry across the air gap, each with its SHA-256:

  by default   the newest published metadata, the whole root history and the
               ceremony record: what the online server publishes
  --partial    staged proposals with the signatures collected so far, for a
               key holder at another site (who signs and sends them back)
  --keys       the public keys in keys/

and write them one of three ways:

  --dir DIR      to a directory (a USB stick), with SHA256SUMS and bundle.json;
                 check it anywhere with: cd DIR && sha256sum -c SHA256SUMS
  --qr DIR       as QR code images (PNG, SVG, or one printable PDF), any 70%
                 of which are enough: scan them with 'ceremony receive'
  --qr-terminal  as animated QR codes on this screen, until Ctrl-C

Compare the short hash printed at the end with the one the other side prints.""",
    )
    export.add_argument("roles", nargs="*", metavar="ROLE", help="only these roles (default: all)")
    where = export.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", metavar="DIR", help="write the bundle as files into DIR (new)")
    where.add_argument("--qr", metavar="DIR", help="write QR code images into DIR (new)")
    where.add_argument("--qr-terminal", action="store_true", help="play QR codes on this screen")
    where.add_argument("--rstuf", metavar="DIR", help="write RSTUF's payloads into DIR (new)")
    rstuf_commands.add_export_options(export)
    what = export.add_mutually_exclusive_group()
    what.add_argument("--partial", action="store_true", help="staged proposals, for another site")
    what.add_argument("--keys", action="store_true", help="the public keys in keys/")
    qr_options = export.add_argument_group("QR options")
    qr_options.add_argument(
        "--format", choices=qr.FORMATS, help="image format for --qr (default png)"
    )
    qr_options.add_argument(
        "--version",
        type=int,
        metavar="V",
        help="QR version 2-40: bigger holds more per code but needs a sharper camera "
        f"(default {qr.DEFAULT_VERSION} for files; the largest that fits the terminal)",
    )
    qr_options.add_argument(
        "--ecc", choices=("L", "M"), default="L", help="error correction (default L)"
    )
    qr_options.add_argument(
        "--frames", type=int, metavar="N", help="codes to write (default: any 70%% rebuild it)"
    )
    qr_options.add_argument(
        "--fps", type=float, default=5.0, help="codes per second on screen (default 5)"
    )
    qr_options.add_argument(
        "--loops", type=int, metavar="N", help="stop after N passes (default: Ctrl-C)"
    )
    qr_options.add_argument(
        "--colors", choices=("256", "16", "truecolor"), default="256", help="terminal colours"
    )
    export.set_defaults(func=cmd_export)


def _check_export_args(args: argparse.Namespace) -> None:
    """Refuse option mistakes before the ceremony record opens."""
    if args.keys and args.roles:
        raise BadInput("--keys exports every public key; it takes no ROLE", "leave ROLE out")
    if (args.format or args.frames is not None) and not args.qr:
        raise BadInput("--format and --frames apply to --qr only", "add --qr DIR, or drop them")
    if (args.loops is not None or args.fps != 5.0) and not args.qr_terminal:
        raise BadInput("--fps and --loops apply to --qr-terminal only", "drop them")
    if args.version is not None and not 2 <= args.version <= 40:
        raise BadInput(f"QR version {args.version} does not exist", "choose 2 to 40")
    if args.frames is not None and args.frames < 1:
        raise BadInput("--frames must be at least 1", "leave it out for the default")
    if args.loops is not None and args.loops < 1:
        raise BadInput("--loops must be at least 1", "leave it out to play until Ctrl-C")
    if not 0 < args.fps <= 30:
        raise BadInput(f"--fps {args.fps} is out of range", "use 1 to 30 (default 5)")


def _build(ws: Workspace, args: argparse.Namespace) -> Bundle:
    from ceremony.transfer import exchange

    if args.keys:
        return exchange.build_keys_export(ws)
    return exchange.build_export(ws, args.roles or None, args.partial)


def cmd_export(args: argparse.Namespace) -> int:
    from ceremony.transfer.bundle import check_target

    if args.rstuf:
        return rstuf_commands.cmd_export(args)
    _check_export_args(args)
    _build(ceremony_of(args).workspace, args)  # refuse bad roles before the record
    if args.dir or args.qr:
        check_target(args.dir or args.qr)  # and a stick that is not mounted
    ws = ceremony_of(args).writable_workspace()
    bundle = _build(ws, args)  # again: the bundle carries the record up to now
    if args.dir:
        _export_dir(ws, bundle, Path(args.dir))
    elif args.qr:
        _export_qr_files(ws, bundle, Path(args.qr), args)
    else:
        _export_terminal(ws, bundle, args)
    return 0


def _print_files(bundle: Bundle) -> None:
    width = max((len(f.name) for f in bundle.files), default=0)
    for item in bundle.files:
        print(f"  {item.name.ljust(width)}  {item.length:>9} bytes  sha256 {item.sha256[:16]}...")


def _print_hash(label: str, digest: str) -> None:
    print(f"{label}: {digest[:16]}")
    print(f"  in words: {short_words(digest[:16], 8)}")


def _export_dir(ws: Workspace, bundle: Bundle, directory: Path) -> None:
    from ceremony.transfer import bundle as bundles
    from ceremony.transfer import exchange

    target = exchange.export_dir(ws, bundle, directory)
    print(f"Exported a {bundle.purpose} bundle of {len(bundle.files)} file(s) to {target}:")
    _print_files(bundle)
    print(f"  {bundles.SUMS_NAME} and {bundles.MANIFEST_NAME} list them with their SHA-256.")
    _print_hash("Bundle hash", bundle.digest())
    print(f"Check the copy with: cd {target} && sha256sum -c {bundles.SUMS_NAME}")


def _export_qr_files(
    ws: Workspace, bundle: Bundle, directory: Path, args: argparse.Namespace
) -> None:
    done = qr.export_frames(
        ws,
        bundle,
        directory,
        fmt=args.format or "png",
        version=args.version,
        ecc=args.ecc,
        count=args.frames,
    )
    encoder, count, fmt = done.encoder, done.count, done.fmt
    print(f"Exported a {bundle.purpose} bundle of {len(bundle.files)} file(s) as QR codes:")
    _print_files(bundle)
    where = "one PDF page per code" if fmt == "pdf" else f"{count} {fmt.upper()} files"
    print(
        f"{count} codes ({where}) in {done.target}, QR version {encoder.version}, "
        f"ECC {encoder.ecc}"
    )
    print(f"K = {encoder.k}: any {encoder.k} codes (rarely {encoder.k + 1}) rebuild the bundle.")
    _print_hash("Transfer hash", encoder.short_hash)
    print("Read them on the online side with: ceremony receive --images FILE... --out DIR")


# --------------------------------------------------------------------------
# the terminal player


class TerminalPlayer:
    """Plays frames at a steady rate: each next frame is built while one shows.

    Clock and sleep are injectable so tests run a pass without waiting.
    """

    def __init__(
        self,
        encoder: FountainEncoder,
        *,
        fps: float,
        out: TextIO,
        colors: str = "256",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.encoder = encoder
        self.interval = 1.0 / fps
        self.out = out
        self.colors = colors
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.shown = 0

    def _screen(self, index: int, text: str) -> str:
        from ceremony.transfer import qrrender

        matrix = qr.frame_matrix(text, self.encoder.version, self.encoder.ecc, index)
        lines = qrrender.render_terminal(matrix, border=2, colors=self.colors)
        status = (
            f"frame {index + 1}  K={self.encoder.k}  hash {self.encoder.short_hash}  (Ctrl-C stops)"
        )
        return HOME + "\n".join(lines) + "\n" + status + "\x1b[K\n"

    def play(self, total: int | None) -> int:
        """Show `total` frames (None: until Ctrl-C); returns how many were shown."""
        frames: Iterator[str] = self.encoder.loop()
        self.out.write(HIDE_CURSOR + CLEAR)
        try:
            screen = self._screen(0, next(frames))
            deadline = self.clock()
            while total is None or self.shown < total:
                self.out.write(screen)
                self.out.flush()
                self.shown += 1
                deadline += self.interval
                if total is None or self.shown < total:
                    screen = self._screen(self.shown, next(frames))
                self.sleep(max(0.0, deadline - self.clock()))
        finally:
            self.out.write(SHOW_CURSOR + "\n")
            self.out.flush()
        return self.shown


def _terminal_version(args: argparse.Namespace) -> int:
    """The largest version that fits, or the one asked for, with a warning if it cannot."""
    size = shutil.get_terminal_size()
    fit = qr.terminal_version(size.columns, size.lines, args.version)
    if fit.warning:
        print(f"warning: {fit.warning}", file=sys.stderr)
    return fit.version


def _export_terminal(ws: Workspace, bundle: Bundle, args: argparse.Namespace) -> None:
    encoder = qr.encoder_for(bundle, _terminal_version(args), args.ecc)
    per_pass = encoder.default_count
    player = TerminalPlayer(encoder, fps=args.fps, out=sys.stdout, colors=args.colors)
    try:
        player.play(None if args.loops is None else args.loops * per_pass)
    except KeyboardInterrupt:
        print("Stopped.")
    finally:
        qr.record_qr_export(
            ws, bundle, encoder, player.shown, medium="qr-terminal", destination="screen"
        )
    print(
        f"Showed {player.shown} codes of a {bundle.purpose} bundle, QR version {encoder.version}."
    )
    print(f"K = {encoder.k}; transfer hash {encoder.short_hash}")


# --------------------------------------------------------------------------
# import


def _register_import(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    imp = sub.add_parser(
        "import",
        parents=[common],
        help="bring a bundle into this workspace (signatures, keys, metadata)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Read a bundle, check every file's SHA-256, then act by its purpose:

  partial  add the other site's signatures to the proposal staged here
           (each is verified; a proposal not staged here yet is staged
           for review first)
  keys     add the public keys to keys/
  publish  stage targets metadata newer than what is published here, as
           proposals to review; roots must match the history here

PATH is a bundle directory (from 'export --dir' or 'receive') or a bundle
file. With --qr, PATH is one or more QR images, or directories of them.
Nothing is written when any check fails: a changed file, a bundle for
another repository, unsafe file names, a different proposal.
Exit 1 when a signature did not verify (the valid ones are kept).""",
    )
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--qr", action="store_true", help="PATH holds QR code images")
    imp.add_argument("--rstuf", action="store_true", help="PATH is RSTUF's metadata to sign")
    imp.set_defaults(func=cmd_import)


def _read_bundle(args: argparse.Namespace) -> tuple[Bundle, str]:
    from ceremony.transfer.bundle import read_path

    if not args.qr:
        if len(args.paths) != 1:
            raise BadInput("import takes one bundle PATH", "give one directory or bundle file")
        return read_path(args.paths[0]), args.paths[0]
    from ceremony.transfer.receive import image_files

    images = image_files(args.paths)
    received = _receive_images(images, None, _ProgressLine(sys.stderr))
    print(f"Transfer hash: {received.short_hash}  (compare with the sender's screen)")
    return qr.bundle_from_payload(received.payload), f"QR images ({len(images)})"


def cmd_import(args: argparse.Namespace) -> int:
    from ceremony.transfer import exchange

    if args.rstuf:
        return rstuf_commands.cmd_import(args)
    bundle, source = _read_bundle(args)
    plan = exchange.plan_import(ceremony_of(args).workspace, bundle, source)
    ws = ceremony_of(args).writable_workspace()  # all checks passed: the record, then writes
    report = exchange.apply_import(ws, plan)
    _print_report(report, bundle)
    if report.failed:
        bad = sum(len(r.invalid) for r in report.roles)
        raise CheckFailed(
            f"{bad} signature(s) in the bundle do not verify; they were not kept",
            "ask the other site to sign again and send a new bundle; the valid ones were merged",
        )
    return 0


def _print_report(report: exchange.ImportReport, bundle: Bundle) -> None:
    print(
        f"Imported a {report.purpose} bundle for {report.repository} "
        f"(made {bundle.created}) from {report.source}"
    )
    _print_hash("Bundle hash", report.bundle_sha256)
    for result in report.roles:
        _print_role(result)
    for shown in report.keys_added:
        print(f"  key added: {shown}")
    for shown in report.keys_present:
        print(f"  key already here: {shown}")
    for path in report.transcripts:
        print(f"  the other site's record kept as {path}")
    for note in report.notes:
        print(f"  note: {note}")
    if report.roles:
        print("Next: ceremony status")


def _print_role(result: exchange.RoleResult) -> None:
    how = "staged here as a new proposal" if result.staged else "merged into the staged proposal"
    print(f"  {result.role} v{result.version}: {how}")
    if result.staged:
        print(f"    review it before signing: ceremony review {result.role}")
    for shown in result.added:
        print(f"    added: {shown}")
    for shown in result.already:
        print(f"    already present: {shown}")
    for keyid in result.unknown:
        print(f"    ignored: key {keyid[:8]} is not authorised for {result.role}")
    for keyid in result.invalid:
        print(f"    NOT KEPT: the signature of key {keyid[:8]} does not verify")


# --------------------------------------------------------------------------
# receive (the online side)


def _register_receive(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    receive = sub.add_parser(
        "receive",
        parents=[common],
        help="read QR codes from images, a video or a camera and write the bundle",
        description="For the receiving side (the online server, or a laptop with a camera): "
        "read the codes until the bundle is complete, check it, write it to --out as a "
        "bundle directory, and print the transfer hash to compare with the sender's screen. "
        "Needs no workspace. Then copy the files under DIR/metadata/ to the repository, or "
        "run 'ceremony import DIR' in a ceremony workspace. Exit 1 when the codes ran out "
        "before the bundle was complete (show or export more codes and read those too).",
    )
    source = receive.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", nargs="+", metavar="FILE", help="image files or directories")
    source.add_argument("--video", metavar="FILE", help="a recording of the sender's screen")
    source.add_argument("--camera", type=int, metavar="N", help="camera number (0 is the first)")
    receive.add_argument("--out", required=True, metavar="DIR", help="where to write the bundle")
    receive.add_argument(
        "--expect", metavar="HASH", help="the sender's transfer hash: ignore other transfers"
    )
    receive.set_defaults(func=cmd_receive)


class _ProgressLine:
    """Progress on stderr: one line redrawn on a terminal, a line per new symbol otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = -1

    def __call__(self, progress: Progress) -> None:
        if not self.tty and progress.received == self.last:
            return
        self.last = progress.received
        k = progress.k or "?"
        text = (
            f"frames seen {progress.frames_seen}, symbols {progress.received} of K={k}, "
            f"{progress.percent:.0f}%"
        )
        if progress.foreign or progress.corrupt:
            text += f" ({progress.foreign} of another transfer, {progress.corrupt} unreadable)"
        self.stream.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _receive_images(paths: list[Path], expect: str | None, progress: _ProgressLine) -> Received:
    from ceremony.transfer.receive import receive_images

    try:
        return receive_images(paths, expect=expect, progress=progress)
    finally:
        progress.done()


def _receive_stream(args: argparse.Namespace, progress: _ProgressLine) -> Received:
    from ceremony.transfer import receive

    try:
        if args.video:
            return receive.receive_video(args.video, expect=args.expect, progress=progress)
        return receive.receive_camera(args.camera, expect=args.expect, progress=progress)
    finally:
        progress.done()


def cmd_receive(args: argparse.Namespace) -> int:
    from ceremony.transfer.bundle import check_target, write_dir
    from ceremony.transfer.receive import describe_other, image_files

    out = check_target(args.out)  # refuse before scanning, not after
    progress = _ProgressLine(sys.stderr)
    if args.images:
        received = _receive_images(image_files(args.images), args.expect, progress)
    else:
        received = _receive_stream(args, progress)
    bundle = qr.bundle_from_payload(received.payload)
    target = write_dir(bundle, out)
    print(
        f"Received a {bundle.purpose} bundle for {bundle.repository} "
        f"(made {bundle.created}): {len(bundle.files)} file(s) in {target}"
    )
    _print_files(bundle)
    for other in received.others:
        print(f"  also seen, and ignored: {describe_other(other)}")
    print(f"Transfer hash: {received.short_hash}")
    print(f"  in words: {short_words(received.short_hash, 8)}")
    print("Compare it with the hash on the sender's screen before using the files.")
    return 0
