#!/usr/bin/env bash
# A throwaway MongoDB-wire server for the integration tests.
#
#   url=$(bash .ci/mongo.sh start)   # prints mongodb://127.0.0.1:PORT/queuectl_test
#   QUEUECTL_TEST_MONGO_URI=$url python3 -m pytest ...
#   bash .ci/mongo.sh stop
#   bash .ci/mongo.sh serve DATA_DIR PORT   # one server in the foreground (exec), for tests
#                                           # that stop and restart a server on kept data
#
# No real mongod can be installed from the package registries these machines
# reach, so CI runs SecantusDB, a MongoDB-wire server written in Python
# (GPL-2.0, beta). It lives in a virtualenv of its own and is never a
# dependency of queuectl. Any genuine MongoDB (4.2 or later) can stand in:
# set QUEUECTL_TEST_MONGO_URI yourself and skip this script.
#
# Environment: QUEUECTL_MONGO_VENV (the virtualenv, created on first use),
# QUEUECTL_MONGO_STATE (pid, url, log and data of the running server; by
# default a fresh `mktemp -d` folder whose path `start` records in
# ~/.cache/queuectl-ci/mongo-state for `url` and `stop`),
# QUEUECTL_MONGO_START_TIMEOUT (seconds to wait for it to answer, default 60).
set -euo pipefail
umask 077

SERVER_PACKAGE="secantusdb==0.7.0b3"
SERVER=mongo
STATE_OVERRIDE="${QUEUECTL_MONGO_STATE:-}"
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
VENV="${QUEUECTL_MONGO_VENV:-$CACHE/mongo-venv}"
START_TIMEOUT="${QUEUECTL_MONGO_START_TIMEOUT:-60}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {
    if [[ -x "$VENV/bin/secantusd-py" && "$(cat "$VENV/.queuectl-package" 2>/dev/null)" == "$SERVER_PACKAGE" ]]; then
        return
    fi
    say "installing $SERVER_PACKAGE into $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SERVER_PACKAGE" >&2
    echo "$SERVER_PACKAGE" > "$VENV/.queuectl-package"
}

# Is PID (still) the server this script started? A recycled PID, or another user's process, is never signalled.
is_our_server() {
    local pid="$1"
    [[ -O "/proc/$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "--storage-path $STATE/data"
}

# Ping until the server answers, it dies, or the deadline passes.
wait_until_up() {
    local url="$1" pid="$2"
    "$VENV/bin/python" - "$url" "$pid" "$START_TIMEOUT" <<'EOF'
import os, sys, time
import pymongo
url, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the server exited while starting")
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
    try:
        client.admin.command("ping")
        sys.exit(0)
    except pymongo.errors.PyMongoError:
        if time.monotonic() > deadline:
            sys.exit(f"no answer within {timeout:g} s")
    finally:
        client.close()
EOF
}

start() {
    stop quietly
    ensure_venv
    new_state
    mkdir "$STATE/data"
    local port url pid
    port="$(free_port "$VENV/bin/python")"
    url="mongodb://127.0.0.1:$port/queuectl_test"
    setsid "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$STATE/data" \
        --log-level WARNING > "$STATE/server.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$STATE/pid"
    if ! wait_until_up "$url" "$pid"; then
        say "the server did not start; its log:"
        tail -n 30 "$STATE/server.log" >&2 || true
        stop quietly
        exit 1
    fi
    echo "$url" > "$STATE/url"
    say "server up at $url (pid $pid)"
    echo "$url"
}

stop() {
    local pid=""
    find_state
    [[ -n "$STATE" ]] && pid="$(cat "$STATE/pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && is_our_server "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do  # up to 10 s for a clean shutdown
            is_our_server "$pid" || break
            sleep 0.1
        done
        if is_our_server "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        [[ "${1:-}" == quietly ]] || say "stopped the server (pid $pid)"
    elif [[ "${1:-}" != quietly ]]; then
        say "no server running"
    fi
    drop_state
}

# The server itself in the foreground, replacing this shell: the caller owns the
# process (its pid is this script's) and may stop and start it again on DATA_DIR.
serve() {
    local data="$1" port="$2"
    ensure_venv
    mkdir -p "$data"
    exec "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$data" --log-level WARNING
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    serve) [[ $# -eq 3 ]] || { echo "usage: $0 serve DATA_DIR PORT" >&2; exit 2; }; serve "$2" "$3" ;;
    *) echo "usage: $0 start|stop|url|serve DATA_DIR PORT" >&2; exit 2 ;;
esac
