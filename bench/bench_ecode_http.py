"""Benchmark the counter verify endpoint under gunicorn against a bare DRF endpoint on the same server.

Run from the repository root: ``.venv/bin/python bench/bench_ecode_http.py [--json PATH]`` (``make bench`` does).
Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL as for the tests) and Debian's ``wrk``.

What it does, all on 127.0.0.1: creates and migrates the database ``yibao_bench`` (BENCH_DATABASE_NAME), seeds
a hospital in Beijing with a counter terminal and two insured people of Chengdu with activated e-codes (one
with an approved filing for Beijing), starts
``gunicorn config.wsgi -w 2`` with ``config.settings.bench`` (production-like: no debug, persistent database
connections, Redis cache), fetches a real code through ``GET /api/v1/ecode/current`` and then drives, with wrk
over loopback, in alternating rounds of equal length:

- ``POST /bench/bare``: a DRF view that parses the JSON body with a serializer and answers; no authentication,
  no database (the baseline of the goal);
- ``POST /bench/bare-counter``: the same behind the counter's API-key authentication and permission;
- ``POST /bench/bare-query``: that, plus one trivial query (``SELECT 1``): the least any endpoint that touches
  the database pays, one round trip;
- ``POST /bench/bare-record``: that, plus what the decision on the verify requires of any check and nothing
  of the service: the code's signature checked, its subject opened, and one statement that reads the
  credential's row and records the check (a second floor, to show what the service itself costs);
- ``POST /api/v1/ecode/verify`` (``verify``): the full counter check of a person with no filing, which
  records a CodeEvent per request in the same statement (at the end it checks that every verify answered is
  a row);
- the same for a person with an approved filing for the hospital's area (``verify_filing``).

Goals (issue 17), against ``bare-query``, the real floor of an endpoint that must read the credential's live
state: verify keeps at least 0.7 of its throughput, and its p99 latency is at most 1.5 times its p99. Each figure is the median over the rounds; the endpoints alternate round by round so that
noise from other processes falls on all of them, and each ratio is the median of the rounds' own ratios (a
round of verify against the round of bare-query just before it), so that a machine whose speed changes from
one minute to the next (a shared virtual machine) moves both sides of a ratio alike. About 3.5 minutes with
the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = "config.settings.bench"
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/2")
DATABASE_NAME = os.environ.get("BENCH_DATABASE_NAME", "yibao_bench")
WORKERS = int(os.environ.get("BENCH_WORKERS", 2))
# Verify against bare-query: at least this share of its throughput, at most this multiple of its p99.
THROUGHPUT_GOAL = 0.7
P99_GOAL = 1.5

# Two insured people of Chengdu: one with no filing (most codes shown at a counter), one with an approved
# filing for Beijing, where the benchmark's hospital is (a cross-provincial patient).
PEOPLE = {"local": ("13700009999", "51010419800101999"), "filing": ("13700009998", "51010419800101998")}
PERSON_PASSWORD = "Bench@2026-pass"
INSTITUTION_CODE = "H11010599999"

WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then wrk.headers["Authorization"] = auth end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        BENCH_DATABASE_NAME=DATABASE_NAME,
        PYTHONPATH=str(ROOT),
    )
    return env


def database_ensure() -> None:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=environment(),
        check=True,
    )


def seed() -> str:
    """Create (once) the institution, person and e-code; return the clear key of a new counter terminal."""
    os.environ.update(environment())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from accounts.models import ApiKey, User
    from accounts.services import (
        api_key_create,
        api_key_revoke,
        counter_operator_create,
        person_create,
        person_get_by_phone,
    )
    from core.validators import id_check_character
    from ecode.models import Credential
    from ecode.services import credential_activate, signing_key_ensure
    from filing.dates import today
    from filing.selectors import filing_in_force
    from filing.services import filing_create_draft, filing_submit
    from reference.models import Institution, Region

    institution, _ = Institution.objects.get_or_create(
        code=INSTITUTION_CODE,
        defaults={
            "name": "基准测试医院",
            "kind": "hospital",
            "level": 3,
            "region": Region.objects.get(code="110000"),
            "inpatient": True,
            "general_outpatient": True,
            "networked": True,
            "active": True,
        },
    )
    operator = User.objects.filter(username="bench-counter").first() or counter_operator_create(
        username="bench-counter", password=PERSON_PASSWORD, institution=institution
    )
    for old in ApiKey.objects.filter(operator=operator, revoked_at__isnull=True):
        api_key_revoke(key=old, reason="new benchmark run")
    _key, clear = api_key_create(operator=operator, name="benchmark terminal")
    signing_key_ensure()
    for group, (phone, first17) in PEOPLE.items():
        person = person_get_by_phone(phone) or person_create(
            name="基准测试",
            id_number=first17 + id_check_character(first17),
            phone=phone,
            insured_region=Region.objects.get(code="510100"),
            scheme="employee",
            password=PERSON_PASSWORD,
        )
        if not Credential.objects.filter(person=person).exists():
            credential_activate(person=person, actor=None)
        if group == "filing" and filing_in_force(person=person) is None:
            draft = filing_create_draft(
                person=person, actor=person.user, group="emergency", destination="110000", start_date=today()
            )
            filing_submit(filing=draft, actor=person.user)  # an emergency counts as filed: approved at once
    connection.close()
    return clear


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, *, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def gunicorn_start(port: int) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    process = subprocess.Popen(
        [gunicorn, "config.wsgi", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=environment(),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if request(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def code_events() -> int:
    """How many code events PostgreSQL holds."""
    from ecode.models import CodeEvent

    return CodeEvent.objects.count()


def server_cpu_seconds(master: int) -> float:
    """User + system CPU time of gunicorn's master and workers so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [master]
    try:
        pids += [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return float("nan")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def database_cpu() -> dict[int, float]:
    """User + system CPU seconds of each PostgreSQL process on this machine so far (Linux /proc), by pid; empty
    when the database runs elsewhere or its processes cannot be read."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _sep, tail = stat.read_text().rpartition(")")
        except OSError:
            continue
        if head.endswith("(postgres"):
            fields = tail.split()
            seconds[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def database_cpu_since(before: dict[int, float]) -> float:
    """PostgreSQL CPU seconds spent since ``before`` by the processes alive now (one that ended in between
    takes its time with it, so it is not subtracted either); NaN when none could be read."""
    after = database_cpu()
    if not after:
        return float("nan")
    return sum(spent - before.get(pid, 0.0) for pid, spent in after.items())


def fresh_token(base: str, phone: str) -> str:
    status, body = request(f"{base}/api/v1/auth/token", data={"phone": phone, "password": PERSON_PASSWORD})
    assert status == 200, body
    status, body = request(
        f"{base}/api/v1/ecode/current", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert status == 200, body
    return body["token"]


def wrk(url: str, *, body: dict, auth: str, seconds: float, connections: int, script: Path) -> dict:
    env = dict(os.environ, BENCH_BODY=json.dumps(body), BENCH_AUTH=auth)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    errors = sum(v for k, v in result.items() if k.startswith("errors_"))
    if errors:
        raise SystemExit(f"{url}: {errors} failed requests: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--seconds", type=int, default=8, help="length of one wrk round (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per endpoint (default 5)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    load_before = os.getloadavg()[0]
    database_ensure()
    api_key = seed()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    events_before = code_events()
    server = gunicorn_start(port)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
            handle.write(WRK_SCRIPT)
        script = Path(handle.name)
        counter = f"Api-Key {api_key}"
        verify = f"{base}/api/v1/ecode/verify"
        # name: (url, authorization, whose code is posted)
        endpoints = {
            "bare": (f"{base}/bench/bare", "", "local"),
            "bare_counter": (f"{base}/bench/bare-counter", counter, "local"),
            "bare_query": (f"{base}/bench/bare-query", counter, "local"),
            "bare_record": (f"{base}/bench/bare-record", counter, "local"),
            "verify": (verify, counter, "local"),
            "verify_filing": (verify, counter, "filing"),
        }
        tokens = {group: fresh_token(base, phone) for group, (phone, _id) in PEOPLE.items()}
        for group, applies in (("local", False), ("filing", True)):
            status, body = request(verify, data={"token": tokens[group]}, headers={"Authorization": counter})
            if status != 200 or not body.get("valid") or body["coverage"]["applies"] is not applies:
                raise SystemExit(f"verify does not answer as expected for the {group} code: {status} {body}")
        warmup_verifies = 2
        # The endpoints that record a check per request.
        recording = ("verify", "verify_filing", "bare_record")
        for name, (url, auth, group) in endpoints.items():  # warm up every worker and connection
            warmup = wrk(
                url,
                body={"token": tokens[group]},
                auth=auth,
                seconds=2,
                connections=args.connections,
                script=script,
            )
            if name in recording:
                warmup_verifies += warmup["requests"]
        rounds: dict[str, list[dict]] = {name: [] for name in endpoints}
        for _ in range(args.rounds):
            # A code lives 150 s with the skew; a round is far shorter.
            tokens = {group: fresh_token(base, phone) for group, (phone, _id) in PEOPLE.items()}
            for name, (url, auth, group) in endpoints.items():
                cpu = server_cpu_seconds(server.pid)
                database_before = database_cpu()
                result = wrk(
                    url,
                    body={"token": tokens[group]},
                    auth=auth,
                    seconds=args.seconds,
                    connections=args.connections,
                    script=script,
                )
                result["server_cpu_ms"] = (server_cpu_seconds(server.pid) - cpu) * 1e3 / result["requests"]
                result["database_cpu_ms"] = database_cpu_since(database_before) * 1e3 / result["requests"]
                rounds[name].append(result)
        script.unlink()
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Every check answered must be a row (wrk may give up on a few in flight at a round's end: more rows).
    recorded = code_events() - events_before
    answered = sum(r["requests"] for name in recording for r in rounds[name]) + warmup_verifies
    if recorded < answered:
        raise SystemExit(f"{answered} checks answered but only {recorded} recorded")

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[name])

    results: dict[str, object] = {
        name: {
            "rps": median(name, "rps"),
            "p50_ms": median(name, "p50_us") / 1e3,
            "p99_ms": median(name, "p99_us") / 1e3,
            "server_cpu_ms": median(name, "server_cpu_ms"),
            "database_cpu_ms": median(name, "database_cpu_ms"),
            "requests": sum(r["requests"] for r in rounds[name]),
        }
        for name in endpoints
    }

    def paired(name: str, base: str, key: str) -> float:
        # The median of the rounds' own ratios: each round of ``name`` ran right after (or before) the same
        # round of ``base``, so that a change in the machine's speed between rounds falls on both.
        return statistics.median(a[key] / b[key] for a, b in zip(rounds[name], rounds[base], strict=True))

    def p99(name: str, base: str) -> float:
        return paired(name, base, "p99_us")

    def throughput(name: str, base: str) -> float:
        return paired(name, base, "rps")

    results.update(
        # The goals: verify against bare-query (counter authentication and one query).
        throughput_ratio=throughput("verify", "bare_query"),
        throughput_ratio_goal=THROUGHPUT_GOAL,
        p99_ratio=p99("verify", "bare_query"),
        p99_ratio_goal=P99_GOAL,
        throughput_ratios=[
            a["rps"] / b["rps"] for a, b in zip(rounds["verify"], rounds["bare_query"], strict=True)
        ],
        p99_ratios=[
            a["p99_us"] / b["p99_us"] for a, b in zip(rounds["verify"], rounds["bare_query"], strict=True)
        ],
        # For what the service costs beyond the work the decision requires of any check.
        throughput_ratio_vs_record=throughput("verify", "bare_record"),
        p99_ratio_vs_record=p99("verify", "bare_record"),
        record_throughput_ratio_vs_query=throughput("bare_record", "bare_query"),
        record_p99_ratio_vs_query=p99("bare_record", "bare_query"),
        filing_throughput_ratio_vs_query=throughput("verify_filing", "bare_query"),
        filing_p99_ratio_vs_query=p99("verify_filing", "bare_query"),
        throughput_ratio_vs_bare=throughput("verify", "bare"),
        p99_ratio_vs_bare=p99("verify", "bare"),
        query_throughput_ratio=throughput("bare_query", "bare"),
        query_p99_ratio=p99("bare_query", "bare"),
        throughput_ratio_vs_counter=throughput("verify", "bare_counter"),
        p99_ratio_vs_counter=p99("verify", "bare_counter"),
        filing_throughput_ratio=throughput("verify_filing", "bare"),
        filing_p99_ratio=p99("verify_filing", "bare"),
        filing_throughput_ratio_vs_counter=throughput("verify_filing", "bare_counter"),
        filing_p99_ratio_vs_counter=p99("verify_filing", "bare_counter"),
        load_before=load_before,
        load_after=os.getloadavg()[0],
        workers=WORKERS,
        verifies_answered=answered,
        verifies_recorded=recorded,
        connections=args.connections,
        seconds=args.seconds,
        rounds=args.rounds,
        cpus=os.cpu_count(),
        python=platform.python_version(),
        postgres=urlparse(DATABASE_URL).hostname,
    )
    print("| endpoint | requests/s | p50 | p99 | CPU per request: gunicorn, PostgreSQL |")
    print("|---|---|---|---|---|")
    for name in endpoints:
        r = results[name]
        print(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['server_cpu_ms']:.2f}, {r['database_cpu_ms']:.2f} ms |"
        )
    print(
        f"\nverify / bare-query: throughput {results['throughput_ratio']:.2f} (goal ≥ {THROUGHPUT_GOAL}), "
        f"p99 {results['p99_ratio']:.2f}× (goal ≤ {P99_GOAL}×)\n"
        f"verify / bare-record: throughput {results['throughput_ratio_vs_record']:.2f}, "
        f"p99 {results['p99_ratio_vs_record']:.2f}×; bare-record / bare-query: throughput "
        f"{results['record_throughput_ratio_vs_query']:.2f}, p99 {results['record_p99_ratio_vs_query']:.2f}×"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
