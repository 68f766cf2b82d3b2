#!/usr/bin/env bash
# `make bench`: the offline and HTTP benchmarks of the e-code and HIS settlement in one run on this machine, then
# docs/performance.md written from their results (bench/results/*.json, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

if ! command -v wrk >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null; } \
    || { echo "Install Debian's wrk for the HTTP benchmark." >&2; exit 1; }
fi

mkdir -p bench/results
echo "== offline: verify and QR rendering"
"$PY" bench/bench_ecode_offline.py --json bench/results/offline.json
echo
echo "== HTTP: counter verify under gunicorn"
"$PY" bench/bench_ecode_http.py --json bench/results/http.json
echo
echo "== HTTP: HIS 2207 against the settlement API"
"$PY" bench/bench_his_http.py --json bench/results/his.json
echo
echo "== large tables: verify and admin pages at 1k and BENCH_LARGE_EVENTS code events (default 100 million)"
"$PY" bench/bench_large_tables.py --events "${BENCH_LARGE_EVENTS:-100000000}" --json bench/results/large.json
"$PY" bench/report.py bench/results/offline.json bench/results/http.json bench/results/his.json > docs/performance.md
"$PY" bench/report_large.py bench/results/large.json >> docs/performance.md
echo
echo "wrote docs/performance.md"
