"""Run one parser of outside data under atheris (coverage-guided fuzzing).

Each fuzz_*.py target calls ``fuzz`` with its parser's name; options after
the target are libFuzzer's, e.g.:

    python -m fuzz.fuzz_metadata -runs=100000 -max_len=65536

An input that ends in anything but acceptance or our own error is a crash:
atheris prints it and exits non-zero, leaving the input in a crash-* file
in the work folder (printed), unless -artifact_prefix says elsewhere. The
corpus and work folder persist in the temporary directory, so a longer
campaign starts from what the last one found.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def fuzz(parser: str, argv: list[str] | None = None) -> None:
    import atheris

    with atheris.instrument_imports(include=["ceremony"]):
        from fuzz import harness
    from fuzz.seeds import seeds

    work = Path(tempfile.gettempdir()) / f"ceremony-fuzz-{parser.replace(' ', '-')}"
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds(parser)):
        (corpus / f"seed-{index}").write_bytes(seed)
    harness.use_scratch(work / "scratch")
    args = list(sys.argv if argv is None else argv)
    if not any(arg.startswith("-artifact_prefix=") for arg in args[1:]):
        args.append(f"-artifact_prefix={work}/")
    if not any(not arg.startswith("-") for arg in args[1:]):
        args.append(str(corpus))

    def one_input(data: bytes) -> None:
        harness.run(parser, data)

    atheris.Setup(args, one_input)
    atheris.Fuzz()
