#!/bin/bash
set -e
out=$1; secs=$2; users=$3
rm -rf $out; mkdir -p $out
FMT='%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'
echo "$FMT" > $out/access_log_format.txt
port=$((20000 + RANDOM % 20000))
cd /tmp/pkreview
/work/main/.venv/bin/gunicorn -b 127.0.0.1:$port -k gthread --workers 2 --threads 4 \
  --access-logfile $out/access.log --access-logformat "$FMT" app:app 2> /dev/null &
gpid=$!
for i in $(seq 50); do curl -s -o /dev/null 127.0.0.1:$port/health && break; sleep 0.2; done
: > $out/access.log
/work/main/.venv/bin/locust -f locustfile.py --headless --host http://127.0.0.1:$port --csv $out/locust --only-summary --loglevel WARNING -u $users -r $users -t ${secs}s > /dev/null 2>&1 || true
kill $gpid; wait $gpid 2>/dev/null || true
wc -l $out/access.log; ls $out
