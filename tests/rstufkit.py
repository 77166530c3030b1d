"""RSTUF's side for the tests: its CLI against a recording API on 127.0.0.1.

The CLI is RSTUF's own (``repository-service-tuf`` from the package index,
run as a separate process). The server answers the three admin endpoints
the way RSTUF's API does (202 with a task id, then a successful task) and
keeps every request body for the test to compare.

``reserialise`` plays RSTUF's API: its models keep, on keys, only keytype,
scheme, keyval, ``x-rstuf-key-name`` and ``x-rstuf-online-key-uri``, and on
role entries only keyids and threshold. The CLI package has no model of
the API to borrow, so the rule is written down here from RSTUF 1.0's API.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

KEPT_KEY_FIELDS = {"keytype", "scheme", "keyval", "x-rstuf-key-name", "x-rstuf-online-key-uri"}
KEPT_ROLE_FIELDS = {"keyids", "threshold"}
ACCEPTED = {
    "/api/v1/bootstrap/": "Bootstrap accepted.",
    "/api/v1/metadata/": "Metadata update accepted.",
    "/api/v1/metadata/sign/": "Metadata sign accepted.",
}


@dataclass
class Recorder:
    url: str
    posts: list[tuple[str, bytes]] = field(default_factory=list)

    def bodies(self, path: str) -> list[Any]:
        return [json.loads(body) for where, body in self.posts if where == path]


def serve() -> Iterator[Recorder]:
    """A recording RSTUF API on 127.0.0.1 (generator: use as a fixture)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    recorder = Recorder(f"http://127.0.0.1:{server.server_address[1]}")
    server.recorder = recorder  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.recorder.posts.append((self.path, body))  # type: ignore[attr-defined]
        message = ACCEPTED.get(self.path)
        if message is None:
            self._answer(404, {"detail": "Not Found"})
            return
        self._answer(202, {"message": message, "data": {"task_id": f"task-{len(body)}"}})

    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/task/"):
            self._answer(200, {"data": {"state": "SUCCESS", "result": {"status": True}}})
        else:
            self._answer(404, {"detail": "Not Found"})


def rstuf_cli(tmp_path: Path, server: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """RSTUF's own command line, in its own process, with an empty config."""
    config = tmp_path / "rstuf.yml"
    config.write_text("{}\n")
    script = Path(sys.executable).parent / "rstuf"
    command = [str(script), "-c", str(config), "admin", "--api-server", server, *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def reserialise(metadata: dict[str, Any]) -> dict[str, Any]:
    """A root as RSTUF's API stores it after an update."""
    result = copy.deepcopy(metadata)
    signed = result["signed"]
    for keyid, key in signed["keys"].items():
        signed["keys"][keyid] = {k: v for k, v in key.items() if k in KEPT_KEY_FIELDS}
    for name, role in signed["roles"].items():
        signed["roles"][name] = {k: v for k, v in role.items() if k in KEPT_ROLE_FIELDS}
    return result
