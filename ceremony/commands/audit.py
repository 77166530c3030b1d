"""`ceremony audit ...` and `ceremony preflight`: the ceremony record.

The record is what makes a ceremony trustworthy after the fact: every step
is written to a transcript whose records are chained by hashes, and the
witnesses write down the final hash as words at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ceremony.commands._common import ceremony_of, print_json
from ceremony.errors import BadInput, CheckFailed
from ceremony.text import visible

if TYPE_CHECKING:
    from ceremony.airgap import PreflightReport


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_audit(sub, common)
    _register_preflight(sub, common)


def _register_audit(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser(
        "audit",
        parents=[common],
        help="start, show, check and close the ceremony record",
        description="Every ceremony keeps a record (a transcript) of each step: who did "
        "what, with which token and key, and the hashes of what was signed. Each entry "
        "carries the hash of the one before, so any later change shows. At the end the "
        "witnesses write down the final hash as words.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    _add_start(actions, common)
    _add_show(actions, common)
    _add_verify(actions, common)
    _add_close(actions, common)


def _add_start(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    start = actions.add_parser(
        "start",
        parents=[common],
        help="begin a ceremony: check the laptop is offline and open its record",
        description="Check that this computer is offline (no network, no default route, "
        "radios blocked), show the clock for everyone to confirm, and open a new "
        "ceremony record naming the operator and the witnesses. If the network is up "
        "the ceremony does not start, unless --allow-network is given, and then that "
        "is written in the record as an exception.",
    )
    start.add_argument("--title", required=True, help='what this ceremony is, e.g. "Root key 1"')
    start.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="NAME",
        help="a witness (repeat for each one)",
    )
    start.add_argument(
        "--new-workspace",
        action="store_true",
        help="the folder is not a workspace yet: create one (a new repository)",
    )
    start.set_defaults(func=cmd_audit_start)


def _add_show(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    show = actions.add_parser(
        "show",
        parents=[common],
        help="print a ceremony record, or write a printable copy",
        description="Print a ceremony record in readable form. With --format md it is a "
        "printable document: participants, every step with its hashes, a place for each "
        "witness's initials and 'agree / do not agree', and the final hash as words.",
    )
    _add_file_argument(show)
    show.add_argument(
        "--format", choices=("text", "md"), default="text", help="text (default) or md"
    )
    show.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of printing")
    show.set_defaults(func=cmd_audit_show)


def _add_file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the transcript (.jsonl); a bare name is looked up in the workspace's "
        "transcripts/ (default: the newest transcript there)",
    )


def _add_verify(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check that a ceremony record was not changed",
        description="Check every link of the record's hash chain and print the final "
        "(head) hash in hex and as words. Compare the words with the ones the witnesses "
        "wrote down. Exit status 1, naming the first broken entry, if anything was changed.",
    )
    _add_file_argument(verify)
    verify.add_argument(
        "--expect",
        metavar="HASH_OR_WORDS",
        help="the head hash the witnesses wrote down (hex, or the words in quotes)",
    )
    verify.set_defaults(func=cmd_audit_verify)


def _add_close(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    close = actions.add_parser(
        "close",
        parents=[common],
        help="end the ceremony and show the final hash for the witnesses",
        description="Write the last entry of the open ceremony record and show its "
        "final hash as words. Each witness writes the words down: they prove later "
        "that the record was not changed or cut short.",
    )
    close.set_defaults(func=cmd_audit_close)


def _register_preflight(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    pre = sub.add_parser(
        "preflight",
        parents=[common],
        help="check that this computer is offline and fit for a ceremony",
        description="Check network interfaces, default routes, wireless and Bluetooth "
        "radios, swap and entropy, and show the clock to confirm against a watch. "
        "The result is added to the open ceremony record, if there is one. "
        "Exit status 1 if the network is up.",
    )
    pre.add_argument("--json", action="store_true", help="machine-readable output")
    pre.set_defaults(func=cmd_preflight)


# ----------------------------------------------------------------- helpers


def _transcript_path(args: argparse.Namespace) -> Path:
    """FILE as given, or in the workspace's transcripts/, or the newest there."""
    from ceremony import audit

    directory = Path(args.workspace) / audit.TRANSCRIPTS_DIR
    if args.file:
        given = Path(args.file)
        if given.exists() or given.is_absolute():
            return given
        return directory / given
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    if not files:
        raise BadInput(
            f"no ceremony record in {directory}",
            "give the transcript file, or use --workspace to point at the workspace",
        )
    return files[-1]


def _word_rows(hex_hash: str) -> list[str]:
    """The head hash as four numbered rows of eight words, easy to copy by hand."""
    from ceremony.words import to_words

    words = to_words(hex_hash)
    return [f"  {i // 8 + 1}. {' '.join(words[i : i + 8])}" for i in range(0, len(words), 8)]


def _print_report(report: PreflightReport) -> None:
    from ceremony.airgap import OK, REFUSE, WARN

    marks = {OK: "ok    ", WARN: "WARN  ", REFUSE: "REFUSE"}
    for check in report.checks:
        print(f"  {marks.get(check.status, check.status)} {check.name:<10} {check.message}")


def _expected_head(text: str | None) -> str | None:
    """The written-down head hash, given as hex or as words."""
    if not text:
        return None
    compact = text.strip().lower()
    if len(compact) == 64 and all(c in "0123456789abcdef" for c in compact):
        return compact
    from ceremony.words import from_words

    return from_words(text).hex()


# ---------------------------------------------------------------- handlers


def cmd_audit_start(args: argparse.Namespace) -> int:
    """Preflight, then a new ceremony record."""
    ceremony = ceremony_of(args)
    transcript = ceremony.start(args.title, args.witness, new_workspace=args.new_workspace)
    report = ceremony.last_preflight
    assert report is not None
    print("Checking that this computer is offline:")
    _print_report(report)
    print()
    if report.network_up:
        print("The network is up: going on because of --allow-network (recorded).")
    print(f"Ceremony started: {visible(args.title)}")
    print(f"Record: {transcript.path}")
    witnesses = ", ".join(visible(w) for w in args.witness) or "none named"
    print(f"Operator: {visible(args.operator)}; witnesses: {witnesses}")
    print("Everyone: confirm the clock above against a watch before going on.")
    return 0


def cmd_audit_show(args: argparse.Namespace) -> int:
    from ceremony import audit
    from ceremony.fsutil import write_atomic

    path = _transcript_path(args)
    render = audit.render_markdown if args.format == "md" else audit.render_text
    text = render(path)
    if args.output:
        write_atomic(Path(args.output), text.encode("utf-8"))
        print(f"Wrote {args.output}")
    else:
        print(text, end="")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ceremony import audit

    path = _transcript_path(args)
    result = audit.verify_transcript(path, expected_head=_expected_head(args.expect))
    state = "closed" if result.closed else "NOT closed (the ceremony may still be going on)"
    print(f"{path.name}: the chain holds, {result.records} records, {state}.")
    if result.incomplete_tail:
        print("Note: the last line was cut short by an interrupted write; it is not counted.")
    print(f"Head hash: {result.head_hash}")
    print("As words:")
    print("\n".join(_word_rows(result.head_hash)))
    if args.expect:
        print("It matches the hash that was written down.")
    return 0


def cmd_audit_close(args: argparse.Namespace) -> int:
    ceremony = ceremony_of(args)
    head = ceremony.close_record()
    transcript = ceremony.transcript
    assert transcript is not None
    print(f"Ceremony closed: {visible(transcript.title)}")
    print(f"Record: {transcript.path}")
    print(f"Final hash: {head}")
    print("Witnesses: write these words down, in order, and sign below them:")
    print("\n".join(_word_rows(head)))
    return 0


def cmd_preflight(args: argparse.Namespace) -> int:
    """Show the checks; add them to the open ceremony record, if any."""
    from ceremony import audit
    from ceremony.airgap import preflight, require_airgap

    report = preflight()
    if args.json:
        print_json(report.to_details())
    else:
        _print_report(report)
    transcript = audit.Transcript.current(Path(args.workspace))
    try:
        if transcript is not None:
            audit.record_preflight(transcript, report, allow_network=args.allow_network)
            print(f"Recorded in {transcript.path.name}.", file=sys.stderr)
        require_airgap(report, allow_network=args.allow_network)
    except CheckFailed as refusal:
        from ceremony.cli import exit_code, print_error

        print_error(refusal)
        return exit_code(refusal)
    return 0
