#!/bin/bash
# record.sh OUTDIR MIX SECONDS CONC SEED [MAXREQ] ; env PK_* passed to app; HOG=secs to run a cpu hog beside
set -e
out=$1; mix=$2; secs=$3; conc=$4; seed=$5; maxreq=${6:-1000000000}
rm -rf $out; mkdir -p $out
FMT='%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'
echo "$FMT" > $out/access_log_format.txt
port=$((20000 + RANDOM % 20000))
cd /tmp/pkreview
/work/main/.venv/bin/gunicorn -b 127.0.0.1:$port -k gthread --workers 2 --threads 4 \
  --access-logfile $out/access.log --access-logformat "$FMT" app:app --pid $out/gunicorn.pid 2> $out/gunicorn.err &
gpid=$!
for i in $(seq 50); do curl -s -o /dev/null 127.0.0.1:$port/health && break; sleep 0.2; done
: > $out/access.log   # drop the warm-up
if [ -n "$HOG" ]; then timeout $((secs+5)) /work/main/.venv/bin/python -c 'while True: pass' & hogpid=$!; fi
/work/main/.venv/bin/python load.py $port $secs $mix $conc $seed $maxreq
if [ -n "$HOG" ]; then kill $hogpid 2>/dev/null || true; fi
kill $gpid; wait $gpid 2>/dev/null || true
rm -f $out/gunicorn.pid
wc -l $out/access.log
