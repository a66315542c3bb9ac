#!/usr/bin/env bash
# Record ApacheBench and wrk outputs against the tiny test app under Gunicorn (127.0.0.1 only).
# Needs Debian's apache2-utils (ab) and wrk. Run from the repository root:
#   bash tests/data/loadtest/record_loadtest.sh
set -euo pipefail
here=tests/data/loadtest
port=18778
.venv/bin/python -m gunicorn -b 127.0.0.1:$port -w 2 tests.apps.tiny_wsgi:app >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.1; done
ab -n 300 -c 4 -g $here/ab_gnuplot.tsv -e $here/ab_percentiles.csv "http://127.0.0.1:$port/sleep?ms=20" > $here/ab_summary.txt
wrk --latency -t 2 -c 8 -d 3s "http://127.0.0.1:$port/sleep?ms=20" > $here/wrk_latency.txt
ab -V | head -1 > $here/versions.txt
wrk -v 2>&1 | head -1 >> $here/versions.txt || true
