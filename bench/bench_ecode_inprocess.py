"""Call the counter endpoints in one process, without a server, for counts that do not depend on the machine's
load: ``loop PATH N`` makes N requests to PATH (for ``valgrind --tool=callgrind``: the difference between two
values of N, divided by their difference, is the instructions of one request), ``cpu`` prints the CPU time
per request of ``bench/bare-query`` and the verify, alternating.

Run from the repository root with the HTTP benchmark's environment (DATABASE_URL, REDIS_URL,
BENCH_DATABASE_NAME; ``--migrate`` the first time), e.g.::

    for n in 100 400; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$n \\
      .venv/bin/python bench/bench_ecode_inprocess.py loop /api/v1/ecode/verify $n; done

and read ``Collected`` in valgrind's output.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_ecode_http as bench_http  # noqa: E402


def main() -> None:
    if "--migrate" in sys.argv:
        bench_http.database_ensure()
    key = bench_http.seed()
    from django.core.handlers.wsgi import WSGIHandler

    from accounts.services import person_get_by_phone
    from ecode.services import token_issue_for_person

    app = WSGIHandler()
    token = token_issue_for_person(person=person_get_by_phone(bench_http.PEOPLE["local"][0])).token

    def call(path: str) -> str:
        body = json.dumps({"token": token}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Api-Key {key}",
        }
        status = []
        b"".join(app(environ, lambda s, _headers: status.append(s)))
        return status[0]

    paths = {"bare_query": "/bench/bare-query", "verify": "/api/v1/ecode/verify"}
    for path in paths.values():
        assert call(path).startswith("200"), path
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if args[0] == "loop":
        for _ in range(int(args[2])):
            call(args[1])
        return
    per_request: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(5):
        for name, path in paths.items():
            start = time.process_time()
            for _ in range(400):
                call(path)
            per_request[name].append((time.process_time() - start) / 400 * 1e3)
    for name, values in per_request.items():
        print(f"{name}: {statistics.median(values):.3f} ms CPU per request (min {min(values):.3f})")


if __name__ == "__main__":
    os.environ.update(bench_http.environment())
    main()
