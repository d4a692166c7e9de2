#!/usr/bin/env bash
# A throwaway PostgreSQL server for the integration tests.
#
#   url=$(bash .ci/postgres.sh start)   # prints postgresql://queuectl@127.0.0.1:PORT/queuectl_test
#   QUEUECTL_TEST_POSTGRES_URL=$url python3 -m pytest ...
#   bash .ci/postgres.sh stop
#   bash .ci/postgres.sh halt / resume    # stop the server keeping its data, start it again (outage tests)
#
# Debian's PostgreSQL (the `postgresql` package; .ci/run installs it when absent):
# initdb in a fresh `mktemp -d` folder, a free port on 127.0.0.1 only, trust
# authentication on loopback only, the unix socket inside the folder. PostgreSQL
# refuses to run as root: then the cluster belongs to the user `queuectl-ci`
# (created on first use) and every server command runs as that user.
#
# Environment: QUEUECTL_POSTGRES_STATE (the folder; by default a fresh one whose
# path `start` records in ~/.cache/queuectl-ci/postgres-state for `url` and `stop`),
# QUEUECTL_POSTGRES_BIN (the server's bin folder; default: the newest under
# /usr/lib/postgresql), QUEUECTL_POSTGRES_START_TIMEOUT (seconds, default 60).
set -euo pipefail
umask 077

SERVER=postgres
STATE_OVERRIDE="${QUEUECTL_POSTGRES_STATE:-}"
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
START_TIMEOUT="${QUEUECTL_POSTGRES_START_TIMEOUT:-60}"
CI_USER="queuectl-ci"

find_bin() {
    local bin="${QUEUECTL_POSTGRES_BIN:-}"
    if [[ -z "$bin" ]]; then
        bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    fi
    [[ -n "$bin" && -x "$bin/initdb" ]] || { say "no PostgreSQL server found (install Debian's postgresql package)"; exit 1; }
    BIN="$bin"
}

# Run a server command as the cluster's owner: this user, or queuectl-ci when this is root.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$CI_USER" -- "$@"
    else
        "$@"
    fi
}

# The folders the server writes: data and run (its socket), the owner's; the state folder stays ours.
ensure_owner() {
    mkdir -m 700 "$STATE/data" "$STATE/run"
    [[ "$(id -u)" == 0 ]] || return 0
    id -u "$CI_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$CI_USER"
    chmod 711 "$STATE"
    chown "$CI_USER" "$STATE/data" "$STATE/run"
}

# Start the server of $STATE on its recorded port; false when it does not come up.
run_server() {
    as_owner "$BIN/pg_ctl" --pgdata="$STATE/data" --log="$STATE/run/server.log" --wait \
        --timeout="$START_TIMEOUT" --silent \
        -o "-c listen_addresses=127.0.0.1 -p $(cat "$STATE/port") -k $STATE/run -c fsync=off -c max_connections=200" \
        start >&2
}

start() {
    stop quietly
    find_bin
    new_state
    ensure_owner
    local port url
    port="$(free_port)"
    echo "$port" > "$STATE/port"
    as_owner "$BIN/initdb" --pgdata="$STATE/data" --username=queuectl --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 > "$STATE/initdb.log" 2>&1 || { say "initdb failed:"; cat "$STATE/initdb.log" >&2; stop quietly; exit 1; }
    # Loopback only: trust is safe because nothing else can connect.
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' | as_owner tee "$STATE/data/pg_hba.conf" > /dev/null
    if ! run_server; then
        say "the server did not start; its log:"
        tail -n 30 "$STATE/run/server.log" >&2 || true
        stop quietly
        exit 1
    fi
    as_owner "$BIN/createdb" -h "$STATE/run" -p "$port" -U queuectl queuectl_test
    url="postgresql://queuectl@127.0.0.1:$port/queuectl_test"
    echo "$url" > "$STATE/url"
    say "server up at $url"
    echo "$url"
}

# An outage, for tests: `halt` stops the server and keeps its data; `resume` starts it again on the same port.
halt() {
    find_state
    [[ -n "$STATE" && -f "$STATE/data/postmaster.pid" ]] || { say "no server running"; exit 1; }
    find_bin
    as_owner "$BIN/pg_ctl" --pgdata="$STATE/data" --mode=fast --wait --silent stop >&2
}

resume() {
    find_state
    [[ -n "$STATE" && -f "$STATE/port" ]] || { say "no server to resume"; exit 1; }
    find_bin
    run_server
}

stop() {
    find_state
    if [[ -n "$STATE" ]] && is_own_folder "$STATE" && [[ -f "$STATE/data/postmaster.pid" ]]; then
        find_bin
        as_owner "$BIN/pg_ctl" --pgdata="$STATE/data" --mode=fast --wait --silent stop >&2 || true
        [[ "${1:-}" == quietly ]] || say "stopped the server"
    elif [[ "${1:-}" != quietly ]]; then
        say "no server running"
    fi
    drop_state
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    halt) halt ;;
    resume) resume ;;
    *) echo "usage: $0 start|stop|url|halt|resume" >&2; exit 2 ;;
esac
