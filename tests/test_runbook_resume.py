"""A runbook rehearsal killed anywhere resumes where it stopped, in the same record.

The root-rotation rehearsal (with provision-token and root-key-generation
before it: token initialisation, key generation, bags, staging, a remote
holder's proof, signing, publishing, export, close) runs in a child process
that kills itself with SIGKILL at the Nth write (ceremony.fsutil's
CEREMONY_FAULT_FILE, as tests/test_crash.py uses it), at points spread over
the whole run. Started again, it must finish with the same published
metadata as a run never interrupted, and every run must have one
continuous transcript that verifies, with each step recorded done once.
"""

from __future__ import annotations

from tests.runbook_kit import check_records, rehearse, summary

KILL_POINTS = 7


def test_killed_at_several_points_then_resumed(tmp_path):
    reference, counter = tmp_path / "reference" / "ws", tmp_path / "reference.count"
    (tmp_path / "reference").mkdir()
    big = 10**9
    counter.write_text(str(big))
    code, output = rehearse(reference, "root-rotation", fault=counter)
    assert code == 0, output
    total = big - int(counter.read_text())
    assert total > 300, f"only {total} write points"
    expected = summary(reference)
    assert expected["2.root.json"]["version"] == 2
    runbooks = sorted(info["runbook"] for info in check_records(reference).values())

    points = [total * (i + 1) // (KILL_POINTS + 1) for i in range(KILL_POINTS)] + [total - 1]
    for point in points:
        base = tmp_path / f"kill-{point}"
        base.mkdir()
        fault = base / "count"
        fault.write_text(str(point))
        workspace = base / "ws"
        code, output = rehearse(workspace, "root-rotation", fault=fault)
        assert code == -9, f"point {point}: not killed (exit {code})\n{output}"
        code, output = rehearse(workspace, "root-rotation")
        assert code == 0, f"point {point}: did not resume\n{output}"
        found = check_records(workspace)
        assert sorted(info["runbook"] for info in found.values()) == runbooks, point
        assert summary(workspace) == expected, f"point {point}: other metadata"
