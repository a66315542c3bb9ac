#!/bin/bash
# record_nginx.sh OUTDIR MIX SECONDS CONC SEED LOGFMT(combined|timed)
set -e
out=$1; mix=$2; secs=$3; conc=$4; seed=$5; lf=$6
rm -rf $out; mkdir -p $out; work=/tmp/pkreview/nginxwork.$$; mkdir -p $work
gport=$((20000 + RANDOM % 10000)); nport=$((30000 + RANDOM % 10000))
cd /tmp/pkreview
/work/main/.venv/bin/gunicorn -b 127.0.0.1:$gport -k gthread --workers 2 --threads 4 app:app 2> $work/gunicorn.err &
gpid=$!
cat > $work/nginx.conf <<NG
worker_processes 1; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 256; }
http {
  log_format timed '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time';
  access_log $out/access.log $lf;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  upstream app { server 127.0.0.1:$gport; keepalive 16; }
  server { listen 127.0.0.1:$nport; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NG
for i in $(seq 50); do curl -s -o /dev/null 127.0.0.1:$gport/health && break; sleep 0.2; done
nginx -c $work/nginx.conf
sleep 0.5; : > $out/access.log
if [ -n "$HOG" ]; then timeout $((secs+5)) /work/main/.venv/bin/python -c "while True: pass" & hogpid=$!; fi
/work/main/.venv/bin/python load.py $nport $secs $mix $conc $seed
if [ -n "$HOG" ]; then kill $hogpid 2>/dev/null || true; fi
nginx -c $work/nginx.conf -s quit; sleep 0.5
kill $gpid; wait $gpid 2>/dev/null || true
if [ "$lf" = timed ]; then echo "\$remote_addr - \$remote_user [\$time_local] \"\$request\" \$status \$body_bytes_sent \"\$http_referer\" \"\$http_user_agent\" \$request_time" > $out/access_log_format.txt; fi
rm -rf $work; wc -l $out/access.log
