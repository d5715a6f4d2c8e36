# shellcheck shell=bash
# redis.sh - throwaway redis-servers for tests. Source it:
#     . "$ROOT/tests/redis.sh"
#     redis_start [--password P] [--acl-user U P] [--unix] [--tls CERTDIR [--tls-cert NAME] [--tls-auth]]
#         -> exports REDIS_PORT REDIS_PID REDIS_URL REDIS_SOCK REDIS_DIR REDIS_PASSWORD REDIS_TLS_PORT
#     redis_cli ARGS...     redis-cli against the last one started, authenticated
#     redis_stop [PID]      stops that server, or every one this shell started
# Each server listens on a random high port of 127.0.0.1 (retried until one is free; never the
# system redis on 6379) and, always, on a unix socket $REDIS_SOCK. REDIS_URL is redis://... with
# the credentials, or with --unix the unix:// URL. It keeps nothing on disk (--save '',
# --appendonly no) and runs in the foreground as a background job of this shell. Several may
# run at once (a proxy in front of two): copy REDIS_* before starting the next.
# --tls: a TLS port too (REDIS_TLS_PORT, the next port), serving CERTDIR/NAME.pem (default
# server; CERTDIR made by tests/redis_certs.sh), client certificates required with --tls-auth;
# REDIS_URL is then rediss://localhost:TLSPORT/0. The plain port stays, for redis_cli.
# No `set -e` here: every function returns non-zero on failure.

_REDIS_PIDS=${_REDIS_PIDS:-}

# Percent-encodes $1 for a URL's userinfo or query.
_redis_enc() {
    local s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in [A-Za-z0-9._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac
    done
    printf '%s' "$out"
}

redis_start() {
    local password="" user="" upass="" unix="" dir port pid i try log tls="" tcert=server tauth=no
    while [ $# -gt 0 ]; do
        case $1 in
            --password) password=${2:?redis_start: --password needs a value}; shift 2 ;;
            --acl-user) user=${2:?redis_start: --acl-user needs U P}; upass=${3:?redis_start: --acl-user needs U P}; shift 3 ;;
            --unix) unix=1; shift ;;
            --tls) tls=${2:?redis_start: --tls needs a directory}; shift 2 ;;
            --tls-cert) tcert=${2:?redis_start: --tls-cert needs a name}; shift 2 ;;
            --tls-auth) tauth=yes; shift ;;
            *) echo "redis_start: unknown option $1" >&2; return 2 ;;
        esac
    done
    command -v redis-server >/dev/null || { echo "redis_start: redis-server not installed (apt-get install redis-server)" >&2; return 1; }
    dir=$(mktemp -d "${TEST_TMP:-${TMPDIR:-/tmp}}/redis.XXXXXX") || return 1
    local args=(--bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$dir"
                --unixsocket "$dir/redis.sock" --unixsocketperm 700)
    [ -n "$password" ] && args+=(--requirepass "$password")
    [ -n "$user" ] && args+=(--user "$user" on ">$upass" '~*' '&*' '+@all')
    log=$dir/redis.log
    for ((try = 0; try < 20; try++)); do
        port=$((10000 + (RANDOM * 32768 + RANDOM) % 22000)) # below the ephemeral ports
        local targs=()
        [ -n "$tls" ] && targs=(--tls-port $((port + 1)) --tls-cert-file "$tls/$tcert.pem" --tls-key-file "$tls/$tcert.key"
                                --tls-ca-cert-file "$tls/ca.pem" --tls-auth-clients "$tauth")
        env -u LD_PRELOAD redis-server --port "$port" "${args[@]}" "${targs[@]}" </dev/null >"$log" 2>&1 &
        pid=$!
        for ((i = 0; i < 200; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            # ours, not another server that happens to hold the port
            if env -u LD_PRELOAD ${password:+REDISCLI_AUTH="$password"} redis-cli -p "$port" info server 2>/dev/null |
                grep -q "^process_id:$pid"; then
                REDIS_PORT=$port REDIS_PID=$pid REDIS_DIR=$dir REDIS_SOCK=$dir/redis.sock REDIS_PASSWORD=$password
                local auth=""
                if [ -n "$password" ]; then auth=":$(_redis_enc "$password")@"; fi
                if [ -n "$user" ]; then auth="$(_redis_enc "$user"):$(_redis_enc "$upass")@"; fi
                REDIS_TLS_PORT=
                if [ -n "$unix" ]; then REDIS_URL="unix://$auth$REDIS_SOCK"
                elif [ -n "$tls" ]; then REDIS_TLS_PORT=$((port + 1)) REDIS_URL="rediss://${auth}localhost:$((port + 1))/0"
                else REDIS_URL="redis://${auth}127.0.0.1:$port/0"; fi
                _REDIS_PIDS="$_REDIS_PIDS $pid"
                eval "_REDIS_DIR_$pid=\$dir"
                export REDIS_PORT REDIS_PID REDIS_URL REDIS_SOCK REDIS_DIR REDIS_PASSWORD REDIS_TLS_PORT
                return 0
            fi
            sleep 0.025
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        grep -q 'Address already in use' "$log" || break # a real failure, not a busy port
    done
    echo "redis_start: redis-server did not start; log:" >&2
    cat "$log" >&2
    rm -rf "$dir"
    return 1
}

redis_cli() {
    [ -n "${REDIS_PORT:-}" ] || { echo "redis_cli: no redis started" >&2; return 1; }
    env -u LD_PRELOAD ${REDIS_PASSWORD:+REDISCLI_AUTH="$REDIS_PASSWORD"} redis-cli -p "$REDIS_PORT" "$@"
}

redis_stop() {
    local pids=${1:-$_REDIS_PIDS} pid i rc=0 dir
    for pid in $pids; do
        kill -CONT "$pid" 2>/dev/null # a test may have stopped it with SIGSTOP
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "redis_stop: pid $pid ignored TERM, killing" >&2
            kill -KILL "$pid" 2>/dev/null; rc=1
        fi
        wait "$pid" 2>/dev/null
        eval "dir=\${_REDIS_DIR_$pid:-}"
        [ -n "$dir" ] && rm -rf "$dir"
        unset "_REDIS_DIR_$pid"
        _REDIS_PIDS=$(printf '%s\n' $_REDIS_PIDS | grep -vx "$pid" | tr '\n' ' ')
        [ "$pid" = "${REDIS_PID:-}" ] && unset REDIS_PID REDIS_PORT REDIS_URL REDIS_SOCK REDIS_DIR REDIS_PASSWORD REDIS_TLS_PORT
    done
    return $rc
}
