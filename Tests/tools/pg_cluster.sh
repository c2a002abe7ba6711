#!/bin/bash
# A throwaway PostgreSQL cluster for the tests and benchmarks (Debian's `postgresql` package):
#   pg_cluster.sh start DIR   initdb (as the postgres user when run as root) into DIR, start it listening on
#                             127.0.0.1 at a free port and on a socket in DIR; prints the server's URL.
#   pg_cluster.sh stop DIR    stops it and removes DIR.
#   pg_cluster.sh restart DIR / pause DIR / resume DIR   stop and start it again keeping the data (outage tests).
set -euo pipefail
command=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg_cluster: no PostgreSQL server installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_ctl_start() {
  local port
  port=$(cat "$dir/port")
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=128MB -c max_pred_locks_per_transaction=256" \
    start >/dev/null
}
case "$command" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U meetingd --auth=trust -E UTF8 --no-locale >/dev/null
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' > "$dir/port"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/port"
    pg_ctl_start
    echo "postgresql://meetingd@127.0.0.1:$(cat "$dir/port")/postgres?sslmode=disable"
    ;;
  pause)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    pg_ctl_start
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg_cluster.sh start|stop|pause|resume DIR" >&2
    exit 2
    ;;
esac
