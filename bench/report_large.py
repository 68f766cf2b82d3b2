"""The large-table section of docs/performance.md (to standard output) from the JSON of bench_large_tables.py.

Usage: ``.venv/bin/python bench/report_large.py LARGE_JSON >> docs/performance.md`` (bench/run.sh does).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

GOALS = {"verify": 1.2}  # every page: 1.5


def main() -> None:
    result = json.loads(Path(sys.argv[1]).read_text())
    small, large, events = result["small"], result["large"], result["events"]
    after = result.get("small_after", small)
    load_info = result["load"]
    rates = [probe["rows_per_s"] for probe in load_info["insert_rates"]]
    months = load_info["months"]
    run_minutes = result["run_seconds"] / 60
    bulk_rate = sum(m["rows"] for m in months) / load_info["seconds"]
    gib = result["check_bytes"] / 2**30
    per_row = result["check_bytes"] / max(events, 1)
    heap_per_row = result["check_heap_bytes"] / max(events, 1)
    load = result["machine"]["load"]
    lines = [
        "",
        "## A large code event table (`bench/bench_large_tables.py`)",
        "",
        f"Measured {result['when']}, in one process with `config.settings.bench` (no HTTP server: the database "
        f"work is what grows with the table), first with about 1,000 code events, then with {events:,} events: "
        f"checks made with `generate_series`, a quarter in each of the last four months, this month's included "
        f"({result['check_partitions']} partitions of checks, with the default one and those ahead). The whole "
        f"run took {run_minutes:.1f} minutes (goal: under 15 at 100 million), of which the load took "
        f"{load_info['seconds'] / 60:.1f}; load average {load[0]:.1f} at the end on "
        f"{result['machine']['cpus']} cores.",
        "",
        "The rows are loaded as a bulk load into PostgreSQL is (pg_restore's order): each month's rows go into a "
        "table of their own without indexes, are frozen (as `COPY FREEZE` writes rows, so that neither the "
        "measures' first reads, setting each row's hint bits, nor autovacuum write the loaded months while "
        "they are measured), its indexes and key are then built by "
        "sorting, and the table takes the place of the month's partition with `ATTACH PARTITION`, which checks "
        "that every row belongs to the month. The inserts and the index builds run in two connections side by "
        "side (one per core), and a checkpoint ends the load so that the measures do not share the disk with "
        f"it: {bulk_rate:,.0f} rows/s over the whole load, where the production path "
        "(below) inserts "
        f"{statistics.median(rates):,.0f} rows/s through the indexes row by row. "
        "What a counter's check pays is measured apart: the insert rate of the production path (one statement "
        f"of {load_info['insert_rates'][0]['rows']:,} checks through the parent table into this month's partition, "
        "with all its indexes and triggers), before the load and after each month.",
        "",
        "| month | rows | insert | freeze | indexes | attach |",
        "|---|---|---|---|---|---|",
        *(
            f"| {m['month']} | {m['rows']:,} | {m['insert_s']:.0f} s | {m.get('freeze_s', 0):.0f} s "
            f"| {m['index_s']:.0f} s | {m['attach_s']:.0f} s |"
            for m in months
        ),
        "",
        "The small case is measured before and again after the large one (the table emptied and 1,000 events "
        "loaded again), and each ratio is the large case's median against the faster of the two small medians, "
        "so that a small run slowed by other work on the machine cannot flatter the ratio.",
        "",
        "| measure | ~1k events: p50, p99 | again after: p50, p99 "
        f"| {large['events']:,} events: p50, p99 | ratio of p50 | goal |",
        "|---|---|---|---|---|---|",
    ]
    for name in small:
        if not isinstance(small[name], dict):
            continue
        ratio = result["ratios_p50"][name]
        goal = GOALS.get(name, 1.5)
        lines.append(
            f"| {name} | {small[name]['p50_ms']:.2f}, {small[name]['p99_ms']:.2f} ms "
            f"| {after[name]['p50_ms']:.2f}, {after[name]['p99_ms']:.2f} ms "
            f"| {large[name]['p50_ms']:.2f}, {large[name]['p99_ms']:.2f} ms | {ratio:.2f} "
            f"| ≤ {goal}, {'met' if ratio <= goal else '**not met**'} |"
        )
    measures = [name for name in small if isinstance(small[name], dict)]
    below = [
        name
        for name in measures
        if large[name]["p50_ms"] <= max(small[name]["p50_ms"], after[name]["p50_ms"])
    ]
    drift = max(
        max(small[n]["p50_ms"], after[n]["p50_ms"]) / min(small[n]["p50_ms"], after[n]["p50_ms"])
        for n in measures
    )
    lines += [
        "",
        f"The two runs at about 1,000 events differ by up to {drift:.2f}× between themselves (the machine's other "
        f"work); the large case's median is at or below the slower of the two for {len(below)} of the "
        f"{len(measures)} measures.",
        "",
        "Insert rate of the production path as the table grew: "
        + ", ".join(
            f"{probe['rows_per_s']:,} rows/s at {probe['total']:,}" for probe in load_info["insert_rates"]
        )
        + f" events; the last is {rates[-1] / rates[0]:.2f} of the first (goal: steady).",
        f"The checks take {gib:.2f} GiB with their indexes, {per_row:.0f} bytes a row ({heap_per_row:.0f} in the "
        "table itself, the rest in its six indexes); docs/scaling.md takes its arithmetic from these figures.",
        "",
        "Each admin page counts at most 1,000 rows exactly and then shows the planner's estimate, reads the "
        "last month by default (one or two partitions) and its newest rows through the time index; the "
        "person's history reads the (person, time) index of each partition. `tests/core/test_large_tables.py` "
        "holds the same pages to the same queries at 1k and 100k rows with no sequential scan.",
        "",
    ]
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
