"""An in-memory stand-in for the matching API, so the stress kit can be exercised offline.

It serves the two endpoints the scenario calls, on 127.0.0.1 only:

- `POST /v1/matches` takes a JSON record and answers 202 with `{"id": ..., "status": "queued"}`;
- `GET /v1/matches/{id}` answers 200 with `"running"` until `--done-after` seconds have
  passed since the submission, then `"done"` with an empty list of matches.

`--fail` makes every request answer 500, to prove that the kit's bars catch failures. The
server prints `listening on http://127.0.0.1:<port>` once it accepts connections, and stops by
itself after `--lifetime` seconds so that a forgotten process cannot keep serving.

    python loadtest/standin.py --port 0 --done-after 0.5 --lifetime 600
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
JOB_PATH = re.compile(r"^/v1/matches/(?P<id>[0-9a-f]{32})$")
REQUIRED_FIELDS = ("age_band", "sex", "conditions")
# Bounds memory on a long run: the oldest jobs are forgotten first, long after any poller
# would have stopped asking about them.
MAX_JOBS = 100_000
# A record is a few kilobytes; anything far larger is a client bug, not a record.
MAX_BODY_BYTES = 1_000_000


class Jobs:
    """Submission times by job id, shared by the server's request threads."""

    def __init__(self) -> None:
        self._submitted: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self) -> str:
        job_id = uuid.uuid4().hex
        with self._lock:
            self._submitted[job_id] = time.monotonic()
            if len(self._submitted) > MAX_JOBS:
                del self._submitted[next(iter(self._submitted))]
        return job_id

    def age(self, job_id: str) -> float | None:
        with self._lock:
            submitted = self._submitted.get(job_id)
        return None if submitted is None else time.monotonic() - submitted


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, done_after: float, fail: bool) -> None:
        super().__init__((LOOPBACK, port), Handler)
        self.jobs = Jobs()
        self.done_after = done_after
        self.fail = fail

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A load generator drops its keep-alive connections when a run ends; that is no error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the real ALB offers: a new connection per request would measure the
    # loopback handshake rather than the handler.
    protocol_version = "HTTP/1.1"

    @property
    def standin(self) -> StandIn:
        assert isinstance(self.server, StandIn)
        return self.server

    def do_POST(self) -> None:
        body = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES))
        if self.standin.fail:
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "stand-in in failure mode"})
            return
        if self.path != "/v1/matches":
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
            return

        problem = _record_problem(body)
        if problem:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": problem})
            return

        job_id = self.standin.jobs.add()
        self._reply(HTTPStatus.ACCEPTED, {"id": job_id, "status": "queued"}, job_id)

    def do_GET(self) -> None:
        if self.standin.fail:
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "stand-in in failure mode"})
            return
        route = JOB_PATH.match(self.path)
        age = None if route is None else self.standin.jobs.age(route["id"])
        if route is None or age is None:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no job at {self.path}"})
            return

        if age < self.standin.done_after:
            self._reply(HTTPStatus.OK, {"id": route["id"], "status": "running"})
        else:
            self._reply(HTTPStatus.OK, {"id": route["id"], "status": "done", "matches": []})

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a log line per request would cost more CPU than serving the request."""

    def _reply(self, status: HTTPStatus, document: object, job_id: str | None = None) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if job_id is not None:
            self.send_header("Location", f"/v1/matches/{job_id}")
        self.end_headers()
        self.wfile.write(payload)


def _record_problem(body: bytes) -> str | None:
    """Why the body is not a record the API would queue, or None when it is one."""
    try:
        record = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(record, dict):
        return "record must be a JSON object"
    missing = [field for field in REQUIRED_FIELDS if field not in record]
    return f"record lacks {', '.join(missing)}" if missing else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--done-after", type=float, default=0.5, help="seconds until done")
    parser.add_argument("--fail", action="store_true", help="answer every request with 500")
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds before exiting")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server = StandIn(args.port, args.done_after, args.fail)
    deadline = threading.Timer(args.lifetime, server.shutdown)
    deadline.daemon = True
    deadline.start()

    sys.stdout.write(f"listening on {server.url}\n")
    sys.stdout.flush()

    with server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
