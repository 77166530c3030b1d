"""Write docs/reliability.md from one run of the campaigns that prove nothing is lost.

    .venv/bin/python scripts/reliability.py            # a medium campaign (a few minutes)
    .venv/bin/python scripts/reliability.py --long     # the long one, on demand
    .venv/bin/python scripts/reliability.py --examples 100 --fuzz-runs 5000 --output -

It runs, against SoftHSM2 and the fault-injecting PKCS#11 module: the
property campaigns and the atheris targets over every parser of outside
data (counting the inputs tried and how each ended), the fault-point tests,
the crash test (kill points survived), the write-error tests and the token
tests; then writes what it saw. Every figure in the page comes from this
run; nothing is copied from elsewhere. Exit 1 when anything failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ceremony import modules

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ceremony import config, metafile, pins  # noqa: E402

FUZZ_TARGETS = {
    "metadata": "fuzz_metadata",
    "public key": "fuzz_public_key",
    "ceremony.toml": "fuzz_config",
    "PIN file": "fuzz_pin_file",
}
PARSED_BY = {
    "metadata": "`metafile.parse_metadata` (then payload, written back, parsed again)",
    "public key": "`keys.load_key_file`, JSON and PEM (then written back, loaded again)",
    "ceremony.toml": "`config.load_config` (then `to_toml`, loaded again, compared)",
    "PIN file": "`pins.pin_source(FILE)`",
}
TEST_FILES = {
    "properties": "tests/test_properties.py",
    "faults": "tests/test_faults.py",
    "fault module": "tests/test_faultpkcs11.py",
    "crash": "tests/test_crash.py",
    "write errors": "tests/test_write_errors.py",
    "limits": "tests/test_input_limits.py",
    "config": "tests/test_config.py",
    "pins": "tests/test_pins.py",
    "hostile key files": "tests/test_key_inputs.py",
    "tokens": "tests/test_tokens.py",
    "signer": "tests/test_signer.py",
    "root ceremony": "tests/test_root_ceremony.py",
    "end to end": "tests/test_end_to_end.py",
}


@dataclass
class Case:
    file: str
    name: str
    outcome: str  # passed | failed | xfailed | skipped
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Run:
    cases: list[Case] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    crash: dict[str, int] = field(default_factory=dict)
    fuzz: dict[str, dict[str, object]] = field(default_factory=dict)
    seconds: float = 0.0

    def in_file(self, key: str) -> list[Case]:
        return [c for c in self.cases if c.file == TEST_FILES[key]]


def run_tests(examples: int, kill_points: int, work: Path) -> Run:
    """One pytest run of every file the page reports on, read from its JUnit XML."""
    junit, counts, crash = work / "junit.xml", work / "counts.json", work / "crash.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), CEREMONY_PROPERTY_EXAMPLES=str(examples))
    env["CEREMONY_KILL_POINTS"] = str(kill_points)
    env.update(CEREMONY_CAMPAIGN_COUNTS=str(counts), CEREMONY_CRASH_FIGURES=str(crash))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += [f"--junitxml={junit}", *TEST_FILES.values()]
    started = time.monotonic()
    subprocess.run(command, cwd=REPO, env=env, check=False, stdout=subprocess.DEVNULL)
    run = Run(seconds=time.monotonic() - started)
    for case in ET.parse(junit).getroot().iter("testcase"):
        run.cases.append(_case(case))
    if counts.exists():
        run.counts = {(p, o): n for p, o, n in json.loads(counts.read_text())}
    if crash.exists():
        run.crash = json.loads(crash.read_text())
    return run


def _case(element: ET.Element) -> Case:
    classname = element.get("classname", "")
    file = classname.replace(".", "/") + ".py"
    name, seconds = element.get("name", ""), float(element.get("time", "0"))
    outcome, detail = "passed", ""
    for child in element:
        message = child.get("message", "")
        if child.tag in ("failure", "error"):
            outcome, detail = "failed", message
        elif child.tag == "skipped":
            kind = child.get("type", "")
            outcome = "xfailed" if kind == "pytest.xfail" else "skipped"
            detail = message
    return Case(file, name, outcome, detail, seconds)


def run_fuzz(runs: int, work: Path) -> dict[str, dict[str, object]]:
    """Each atheris target for ``runs`` inputs; its count of runs and any crash."""
    results: dict[str, dict[str, object]] = {}
    if importlib.util.find_spec("atheris") is None:
        return results
    for parser, target in FUZZ_TARGETS.items():
        env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(work))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", f"fuzz.{target}", f"-runs={runs}", "-max_len=65536"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        output = done.stdout + done.stderr
        found = re.search(r"Done (\d+) runs", output)
        crash = re.search(r"(Uncaught Python exception:.*?)(?:\n\n|\Z)", output, re.S)
        results[parser] = {
            "runs": int(found.group(1)) if found else 0,
            "ok": done.returncode == 0,
            "crash": crash.group(1)[:400] if crash else "",
            "seconds": time.monotonic() - started,
        }
    return results


# --------------------------------------------------------------------------
# The page


def render(run: Run, examples: int, fuzz_runs: int, softhsm: str) -> str:
    failed = [c for c in run.cases if c.outcome == "failed"]
    fuzz_crashes = [p for p, r in run.fuzz.items() if not r["ok"]]
    verdict = "nothing lost, no crash" if not failed and not fuzz_crashes else "FAILURES"
    lines = [
        "# Reliability: what was tried, and that nothing was lost",
        "",
        "Written by `scripts/reliability.py` from one run on "
        f"{time.strftime('%Y-%m-%d')} ({run.seconds:.0f} s of tests); every figure below "
        "comes from that run. Run it again to check: "
        "`.venv/bin/python scripts/reliability.py` (add `--long` for the long campaign). "
        "The normal test run (`bash scripts/test.sh`) runs a short campaign of each part.",
        "",
        f"**Verdict: {verdict}**"
        f" ({sum(c.outcome == 'passed' for c in run.cases)} tests passed, "
        f"{len(failed)} failed, {sum(c.outcome == 'xfailed' for c in run.cases)} expected "
        "failures listed below).",
        "",
    ]
    lines += _limits()
    lines += _inputs(run, examples, fuzz_runs)
    lines += _faults(run)
    lines += _kills(run)
    lines += _writes(run)
    lines += _implementations(run, softhsm)
    lines += _open(run, failed)
    return "\n".join(lines).rstrip() + "\n"


def _limits() -> list[str]:
    low, high = config.EXPIRY_DAYS_RANGE
    return [
        "## Input limits",
        "",
        "Everything from outside may be hostile; these are refused with our own error "
        "(exit 2) naming the file and the problem:",
        "",
        "| input | limit |",
        "| --- | --- |",
        f"| metadata and key JSON | at most {metafile.MAX_JSON_BYTES:,} bytes; nesting at most "
        f"{metafile.MAX_JSON_DEPTH} deep (counted without recursion); UTF-8 only; no duplicate "
        "keys; no floats, NaN or Infinity anywhere (the field is named); no unpaired "
        "surrogates |",
        f"| ceremony.toml | a regular file of at most {config.MAX_CONFIG_BYTES:,} bytes; known "
        "sections and settings only (the unknown one is named); types checked (`true` is not "
        f"a number of days); expiry days from {low} to {high}; `pkcs11.module` an absolute "
        "path |",
        f"| PIN file | a regular file of at most {pins.MAX_PIN_FILE_BYTES} bytes, mode 600 "
        "(else: `chmod 600 FILE`), UTF-8, the PIN alone on its first line, no control "
        f"characters; new PINs at least {pins.MIN_NEW_PIN_LENGTH} characters |",
        "| writes | read-only media, a full disk, permissions and I/O errors are our "
        "WorkspaceError with a fix; the temporary file is removed, a cut-short transcript "
        "line cut off |",
        "",
    ]


def _inputs(run: Run, examples: int, fuzz_runs: int) -> list[str]:
    by_parser: dict[str, dict[str, int]] = defaultdict(dict)
    for (parser, outcome), number in run.counts.items():
        by_parser[parser][outcome] = number
    props = run.in_file("properties")
    lines = [
        "## Bad inputs tried, per parser",
        "",
        f"Property campaigns (hypothesis, up to {examples} examples per property: documents "
        "as written, with one value replaced or a member added or removed, damaged bytes, "
        "deep nesting, random bytes) and coverage-guided fuzzing (atheris, "
        f"{fuzz_runs} runs per target from a seed of each). Each input must end accepted "
        "(and survive being written back) or refused with our own error in words.",
        "",
        "| parser | through | property inputs: refused / accepted | fuzz runs | other exceptions |",
        "| --- | --- | --- | --- | --- |",
    ]
    for parser, through in PARSED_BY.items():
        seen = by_parser.get(parser, {})
        fuzz = run.fuzz.get(parser)
        fuzz_text = f"{fuzz['runs']:,}" if fuzz else "atheris not installed"
        known = seen.get("known defect", 0)
        other = "none" if not known else f"{known} (known defect, see below)"
        if fuzz and not fuzz["ok"]:
            other += f"; fuzz crash: {fuzz['crash'] or 'see output'}"
        lines.append(
            f"| {parser} | {through} | {seen.get('refused', 0):,} / {seen.get('accepted', 0):,} "
            f"| {fuzz_text} | {other} |"
        )
    lines += ["", f"Properties checked ({_tally(props)}):", ""]
    lines += [f"- `{c.name}`: {c.outcome}" for c in props]
    return [*lines, ""]


def _tally(cases: list[Case]) -> str:
    outcomes: dict[str, int] = defaultdict(int)
    for case in cases:
        outcomes[case.outcome] += 1
    return ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none ran"


def _faults(run: Run) -> list[str]:
    cases = run.in_file("faults")
    module = run.in_file("fault module")
    lines = [
        "## Fault points injected (PKCS#11)",
        "",
        "`tests/faultpkcs11/faultpkcs11.c` is a PKCS#11 module the test suite compiles: it "
        "forwards every call to SoftHSM2 and fails the Nth use of a chosen function with a "
        "chosen return value, or flips one bit of a signature. Its own tests "
        f"({_tally(module)}) show it forwards and fires exactly when told.",
        "",
        "Each fault below ran `ceremony` in a child process; passing means: no traceback, a "
        "non-zero exit, a message with a 'What to do' line, no PIN in the output, and every "
        "workspace file byte for byte as before (the record may only grow, by the error).",
        "",
        "| fault | outcome |",
        "| --- | --- |",
    ]
    for case in cases:
        shown = case.outcome + (
            " (needs the engine's error mapping)" if case.outcome == "xfailed" else ""
        )
        lines.append(f"| `{case.name}` | {shown} |")
    return [*lines, ""]


def _kills(run: Run) -> list[str]:
    cases = run.in_file("crash")
    killed = next((c for c in cases if c.name == "test_killed_at_any_write"), None)
    figures = run.crash
    lines = ["## Kill points survived", ""]
    if killed is None or not figures:
        return [*lines, "The crash test did not run.", ""]
    verdict = "all survived" if killed.outcome == "passed" else f"NOT all: {killed.detail[:300]}"
    lines += [
        f"The rehearsal ceremony has {figures['write_points']} write points (before and "
        "after each rename, mid-line in each transcript append). It was killed with SIGKILL "
        f"at {figures['kill_points']} of them, spread over the whole ceremony (all of them "
        f"with `--long`): {verdict}. "
        "After each kill the workspace loads, every signature the screen reported is on "
        "disk, every transcript verifies, and running the rest finishes the ceremony "
        f"(`tests/test_crash.py`, {killed.seconds:.0f} s). The PIN was found in none of the "
        "files written: "
        + next((c.outcome for c in cases if c.name == "test_pin_never_written"), "not run")
        + ".",
        "",
    ]
    return lines


def _writes(run: Run) -> list[str]:
    cases = run.in_file("write errors")
    lines = [
        "## Hostile media",
        "",
        "Real conditions where the machine allows (a 64 KiB tmpfs filled up and remounted "
        "read-only, a child running as an unprivileged user); an I/O error at fsync is "
        f"simulated. {_tally(cases)}:",
        "",
    ]
    lines += [f"- `{c.name}`: {c.outcome}" + (f" ({c.detail})" if c.detail else "") for c in cases]
    return [*lines, ""]


def _implementations(run: Run, softhsm: str) -> list[str]:
    lines = [
        "## PKCS#11 implementations passed",
        "",
        "| implementation | tests | outcome |",
        "| --- | --- | --- |",
    ]
    for key in ("tokens", "signer", "root ceremony", "end to end"):
        lines.append(f"| {softhsm} | `{TEST_FILES[key]}` | {_tally(run.in_file(key))} |")
    module = run.in_file("fault module") + run.in_file("faults")
    lines.append(f"| faultpkcs11 over {softhsm} | fault tests | {_tally(module)} |")
    return [*lines, ""]


def _open(run: Run, failed: list[Case]) -> list[str]:
    xfailed = [c for c in run.cases if c.outcome == "xfailed"]
    lines = ["## Not yet passing", ""]
    if not xfailed and not failed:
        return [*lines, "Nothing.", ""]
    for case in failed:
        lines.append(f"- FAILED `{case.file}::{case.name}`: {case.detail[:200]}")
    for case in xfailed:
        lines.append(f"- expected failure `{case.file}::{case.name}`: {case.detail}")
    return [*lines, ""]


def softhsm_name() -> str:
    from ceremony import tokens

    try:
        path = modules.resolve_module_path(None)
        lib: Any = tokens.load_module(path)
    except Exception as error:  # a report, not a check: say what happened
        return f"no module ({error})"
    major, minor = lib.library_version
    return f"{lib.manufacturer_id.strip()} {major}.{minor} (`{path}`)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", action="store_true", help="the long campaign")
    parser.add_argument("--examples", type=int, help="examples per property")
    parser.add_argument("--fuzz-runs", type=int, help="atheris runs per target")
    parser.add_argument(
        "--output", default=str(REPO / "docs" / "reliability.md"), help="- for stdout"
    )
    args = parser.parse_args(argv)
    examples = args.examples or (5000 if args.long else 500)
    fuzz_runs = args.fuzz_runs or (1_000_000 if args.long else 50_000)
    with tempfile.TemporaryDirectory(prefix="ceremony-reliability-") as scratch:
        os.environ.setdefault("SOFTHSM2_CONF", str(_softhsm_conf(Path(scratch))))
        run = run_tests(examples, 1000 if args.long else 30, Path(scratch))
        run.fuzz = run_fuzz(fuzz_runs, Path(scratch))
        page = render(run, examples, fuzz_runs, softhsm_name())
    if args.output == "-":
        sys.stdout.write(page)
    else:
        Path(args.output).write_text(page)
        print(f"wrote {args.output}")
    bad = any(c.outcome == "failed" for c in run.cases) or any(
        not r["ok"] for r in run.fuzz.values()
    )
    return 1 if bad else 0


def _softhsm_conf(scratch: Path) -> Path:
    """A private token folder, so describing SoftHSM touches no real tokens."""
    (scratch / "tokens").mkdir()
    conf = scratch / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {scratch / 'tokens'}\nlog.level = ERROR\n")
    return conf


if __name__ == "__main__":
    sys.exit(main())
