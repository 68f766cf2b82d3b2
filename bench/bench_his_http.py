"""Benchmark HIS settlement (2207) against POST /api/v1/settlements/ for the same bill, under gunicorn.

Run from the repository root: ``.venv/bin/python bench/bench_his_http.py [--json PATH]`` (``make bench`` does).
Needs PostgreSQL and Redis as bench/bench_ecode_http.py (same database ``yibao_bench``, same settings).

Every settlement needs its own use of an e-code, so the bills are prepared before the clock starts: for each
request, a person's code is used at the benchmark hospital (``ecode_consume``) and, for the HIS, registered as a
visit with its three fee details (what 2201 and 2204 leave behind). Then, on 127.0.0.1, a fixed number of
settlements go through each endpoint from ``--connections`` keep-alive clients, in alternating rounds, both
authenticated with the same counter API key, the bills spread over ``--people`` people (a settlement locks
its person's year totals). Goal: 2207 keeps at least 0.8 of the API's throughput (median of the rounds).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

import bench_ecode_http as base  # noqa: E402 - the same database, settings and gunicorn

INSTITUTION_CODE = "H11010599998"
ITEMS = [
    ("XJ01CAA040A001", "阿莫西林胶囊", "20", "25.00"),
    ("XC10AAA105A001", "阿托伐他汀钙片", "2", "35.00"),
    ("BENCH-SELF-PAID", "自费项目", "1", "12.30"),
]


def seed(*, people: int, per_endpoint: int) -> tuple[str, list[bytes], list[bytes]]:
    """The counter key and the request bodies: one API bill and one 2207 per prepared use."""
    os.environ.update(base.environment())
    import django

    django.setup()
    import datetime as dt
    from decimal import Decimal as D

    from django.db import connection

    from accounts.models import ApiKey, User
    from accounts.services import api_key_create, api_key_revoke, counter_operator_create
    from ecode.models import Credential
    from ecode.services import credential_activate, ecode_consume, signing_key_ensure, token_issue
    from filing.dates import today
    from filing.selectors import filing_in_force
    from his.codes import psn_no
    from his.models import HisFee, HisVisit
    from reference.models import Institution, Region
    from settlement.models import Catalogue, CatalogueItem, Policy
    from tests.factories import person_factory
    from tests.settlement import factories as f

    institution, _ = Institution.objects.get_or_create(
        code=INSTITUTION_CODE,
        defaults={
            "name": "HIS 基准测试医院",
            "kind": "hospital",
            "level": 3,
            "region": Region.objects.get(code="110000"),
            "inpatient": True,
            "general_outpatient": True,
            "networked": True,
            "active": True,
        },
    )
    operator = User.objects.filter(username="bench-his").first() or counter_operator_create(
        username="bench-his", password=base.PERSON_PASSWORD, institution=institution
    )
    for old in ApiKey.objects.filter(operator=operator, revoked_at__isnull=True):
        api_key_revoke(key=old, reason="new benchmark run")
    _key, clear = api_key_create(operator=operator, name="HIS benchmark terminal")
    if not Policy.objects.filter(region_id="510100", scheme="employee", year=today().year).exists():
        f.policy(annual_cap=D("999999999.00"))
    catalogue = Catalogue.objects.filter(province_id="110000").first()
    for code, name, cls in (
        ("XJ01CAA040A001", "阿莫西林胶囊", "A"),
        ("XC10AAA105A001", "阿托伐他汀钙片", "B"),
    ):
        if catalogue is None or not CatalogueItem.objects.filter(catalogue=catalogue, code=code).exists():
            f.catalogue_item(code, name, cls)
            catalogue = Catalogue.objects.get(province_id="110000")
    signing_key_ensure()
    persons = []
    for n in range(people):
        phone = f"1370000{n:04d}"
        from accounts.services import person_get_by_phone

        person = person_get_by_phone(phone) or person_factory(
            phone=phone, birth=f"1970{(n % 12) + 1:02d}{(n % 28) + 1:02d}"
        )
        if filing_in_force(person=person) is None:
            f.filed(person)
        if not Credential.objects.filter(person=person).exists():
            credential_activate(person=person, actor=None)
        persons.append(person)

    def use(person) -> int:
        credential = Credential.objects.get(person=person)
        return ecode_consume(token=token_issue(credential=credential).token, operator=operator).use_id

    day = today().isoformat()
    items = [{"code": c, "name": n, "quantity": q, "unit_price": p} for c, n, q, p in ITEMS]
    api_bodies, his_bodies = [], []
    stamp = time.strftime("%Y%m%d%H%M%S")
    for i in range(per_endpoint):
        person = persons[i % people]
        api_bodies.append(
            json.dumps(
                {"use_id": use(person), "visit_type": "general_outpatient", "visit_date": day, "items": items}
            ).encode()
        )
        visit = HisVisit.objects.create(
            mdtrt_id=f"B{stamp}{i:08d}",
            institution=institution,
            person=person,
            operator=operator,
            code_event_id=use(person),
            med_type="11",
            insutype="310",
            begntime=dt.datetime.combine(today(), dt.time(8, 0), tzinfo=dt.timezone(dt.timedelta(hours=8))),
        )
        HisFee.objects.bulk_create(
            [
                HisFee(
                    visit=visit,
                    feedetl_sn=str(k),
                    code=c,
                    name=n,
                    quantity=D(q),
                    unit_price=D(p),
                    amount=(D(q) * D(p)).quantize(D("0.01")),
                )
                for k, (c, n, q, p) in enumerate(ITEMS)
            ]
        )
        his_bodies.append(
            json.dumps(
                {
                    "infno": "2207",
                    "msgid": f"{INSTITUTION_CODE}{stamp}{i:04d}"[:30],
                    "fixmedins_code": INSTITUTION_CODE,
                    "infver": "V1.0",
                    "input": {
                        "data": {
                            "psn_no": psn_no(person.pk),
                            "mdtrt_id": visit.mdtrt_id,
                            "med_type": "11",
                            "medfee_sumamt": "582.30",
                            "insutype": "310",
                            "psn_setlway": "01",
                            "mdtrt_cert_type": "01",
                            "mdtrt_cert_no": "",
                            "acct_used_flag": "0",
                        }
                    },
                },
                ensure_ascii=False,
            ).encode()
        )
    connection.close()
    return clear, api_bodies, his_bodies


def drive(port: int, path: str, bodies: list[bytes], *, key: str, connections: int) -> dict:
    """Send every body once over `connections` keep-alive clients; the throughput and latencies."""
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {key}"}
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            start = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
            elapsed = time.perf_counter() - start
            ok = response.status in (200, 201) and (b'"infcode":0' in text or path.startswith("/api/"))
            with lock:
                latencies.append(elapsed)
                if not ok:
                    failures.append(text[:200].decode(errors="replace"))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "failures": len(failures),
        "first_failure": failures[0] if failures else "",
        "throughput": len(latencies) / duration,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--requests", type=int, default=150, help="settlements per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per endpoint (default 3)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--people", type=int, default=20, help="people the bills are spread over")
    args = parser.parse_args()

    base.database_ensure()
    key, api_bodies, his_bodies = seed(people=args.people, per_endpoint=args.requests * args.rounds)
    port = base.free_port()
    server = base.gunicorn_start(port)
    rounds: dict[str, list[dict]] = {"api": [], "his": []}
    try:
        for r in range(args.rounds):
            chunk = slice(r * args.requests, (r + 1) * args.requests)
            rounds["his"].append(
                drive(port, "/his/v1/2207", his_bodies[chunk], key=key, connections=args.connections)
            )
            rounds["api"].append(
                drive(port, "/api/v1/settlements/", api_bodies[chunk], key=key, connections=args.connections)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)

    def median(name: str, field: str) -> float:
        return statistics.median(result[field] for result in rounds[name])

    results = {
        "requests": args.requests,
        "rounds": args.rounds,
        "connections": args.connections,
        "workers": base.WORKERS,
        "failures": sum(result["failures"] for name in rounds for result in rounds[name]),
        "api_throughput": median("api", "throughput"),
        "his_throughput": median("his", "throughput"),
        "api_p99_ms": median("api", "p99_ms"),
        "his_p99_ms": median("his", "p99_ms"),
        "rounds_detail": rounds,
    }
    results["throughput_ratio"] = results["his_throughput"] / results["api_throughput"]
    print(
        f"2207 {results['his_throughput']:.1f}/s vs API {results['api_throughput']:.1f}/s: "
        f"ratio {results['throughput_ratio']:.2f} (goal >= 0.8); p99 {results['his_p99_ms']:.0f} ms vs "
        f"{results['api_p99_ms']:.0f} ms; failures {results['failures']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
