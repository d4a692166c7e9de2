# Sourced by .ci/mongo.sh and .ci/postgres.sh: the state folder of a throwaway test server.
#
# The sourcing script sets SERVER (mongo, postgres: names its messages, pointer
# and temp folders) and STATE_OVERRIDE (its QUEUECTL_*_STATE, may be empty)
# first. The state folder is the override, else a fresh `mktemp -d` one whose
# path `new_state` records in ~/.cache/queuectl-ci/$SERVER-state for later calls.

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/queuectl-ci"
POINTER="$CACHE/$SERVER-state"  # where the default state folder of the running server is
STATE="$STATE_OVERRIDE"

say() { echo "$SERVER.sh: $*" >&2; }

# Is $1 a real folder (not a symlink) of this user? Nothing else is written into or removed.
is_own_folder() {
    [[ -d "$1" && ! -L "$1" && -O "$1" ]]
}

# The state folder of the running server: the override, else the recorded one (may be empty).
find_state() {
    if [[ -z "$STATE" && -f "$POINTER" && ! -L "$POINTER" && -O "$POINTER" ]]; then
        STATE="$(cat "$POINTER")"
    fi
}

# A state folder for a new server: the override (created owner-only if missing), else a fresh one.
new_state() {
    if [[ -n "$STATE_OVERRIDE" ]]; then
        STATE="$STATE_OVERRIDE"
        mkdir -p -m 700 "$STATE"
        is_own_folder "$STATE" || { say "$STATE is not a folder of yours; refusing it"; exit 1; }
        chmod 700 "$STATE"
    else
        STATE="$(mktemp -d "${TMPDIR:-/tmp}/queuectl-ci-$SERVER.XXXXXXXX")"
        mkdir -p -m 700 "$CACHE"
        printf '%s\n' "$STATE" > "$POINTER"
    fi
}

# After a stop: remove the state folder (if it is ours) and forget it.
drop_state() {
    if [[ -n "$STATE" ]] && is_own_folder "$STATE"; then
        rm -rf -- "$STATE"
    fi
    [[ -n "$STATE_OVERRIDE" ]] || rm -f -- "$POINTER"
    STATE="$STATE_OVERRIDE"
}

# The running server's URL, as `start` printed it.
url() {
    find_state
    [[ -n "$STATE" && -f "$STATE/url" ]] || { say "no server running"; exit 1; }
    cat "$STATE/url"
}

# A free TCP port on 127.0.0.1, found with the Python interpreter $1 (default python3).
free_port() {
    "${1:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
