# shellcheck shell=bash
# redis.sh - throwaway redis-servers for tests. Source it:
#     . "$ROOT/tests/redis.sh"
#     redis_start [--password P] [--acl-user U P] [--unix] [--tls CERTDIR [--tls-cert NAME] [--tls-auth]]
#         -> exports REDIS_PORT REDIS_PID REDIS_URL REDIS_SOCK REDIS_DIR REDIS_PASSWORD REDIS_TLS_PORT
#     redis_start ... --cluster   a cluster node (cluster-enabled, node timeout
#                           $REDIS_CLUSTER_NODE_TIMEOUT ms, default 1000), not yet in a cluster
#     redis_start ... -- ARGS     more redis-server arguments
#     redis_cluster_start PRIMARIES REPLICAS [redis_start options]
#         -> REDIS_CLUSTER_PORTS REDIS_CLUSTER_PIDS REDIS_CLUSTER_URL (redis+cluster://every node)
#            and with --tls CERTDIR REDIS_CLUSTER_TLS_URL (rediss+cluster://localhost:TLSPORT,...)
#     redis_cluster_primary_of PORT: the port of the primary a node is or follows
#     redis_sentinels_start PRIMARY_PORT NAME N [--password P] [--primary-password P] [--tls CERTDIR]
#         N redis-sentinels on loopback watching 127.0.0.1:PRIMARY_PORT as NAME (quorum 2, down
#         after 1 s), returned once each knows the primary's replicas and the other sentinels;
#         with --tls they listen with TLS only and reach the servers with TLS
#         -> REDIS_SENTINEL_PORTS REDIS_SENTINEL_PIDS
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
    local password="" user="" upass="" unix="" dir port pid i try log tls="" tcert=server tauth=no cluster="" extra=()
    while [ $# -gt 0 ]; do
        case $1 in
            --password) password=${2:?redis_start: --password needs a value}; shift 2 ;;
            --acl-user) user=${2:?redis_start: --acl-user needs U P}; upass=${3:?redis_start: --acl-user needs U P}; shift 3 ;;
            --unix) unix=1; shift ;;
            --tls) tls=${2:?redis_start: --tls needs a directory}; shift 2 ;;
            --tls-cert) tcert=${2:?redis_start: --tls-cert needs a name}; shift 2 ;;
            --tls-auth) tauth=yes; shift ;;
            --cluster) cluster=1; shift ;;
            --) shift; extra=("$@"); break ;;
            *) echo "redis_start: unknown option $1" >&2; return 2 ;;
        esac
    done
    command -v redis-server >/dev/null || { echo "redis_start: redis-server not installed (apt-get install redis-server)" >&2; return 1; }
    dir=$(mktemp -d "${TEST_TMP:-${TMPDIR:-/tmp}}/redis.XXXXXX") || return 1
    # a replica syncs at once (the primary would wait 5 s for more replicas to send to together)
    local args=(--bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$dir" --repl-diskless-sync-delay 0
                --unixsocket "$dir/redis.sock" --unixsocketperm 700)
    [ -n "$password" ] && args+=(--requirepass "$password")
    [ -n "$user" ] && args+=(--user "$user" on ">$upass" '~*' '&*' '+@all')
    [ -n "$cluster" ] && args+=(--cluster-enabled yes --cluster-config-file "$dir/nodes.conf"
                                --cluster-node-timeout "${REDIS_CLUSTER_NODE_TIMEOUT:-1000}")
    log=$dir/redis.log
    for ((try = 0; try < 20; try++)); do
        port=$((10000 + (RANDOM * 32768 + RANDOM) % 22000)) # below the ephemeral ports
        [ -n "$cluster" ] && port=$((10000 + (RANDOM * 32768 + RANDOM) % 12000)) # its bus, port + 10000, too
        local targs=()
        [ -n "$tls" ] && targs=(--tls-port $((port + 1)) --tls-cert-file "$tls/$tcert.pem" --tls-key-file "$tls/$tcert.key"
                                --tls-ca-cert-file "$tls/ca.pem" --tls-auth-clients "$tauth")
        env -u LD_PRELOAD redis-server --port "$port" "${args[@]}" "${targs[@]}" "${extra[@]}" </dev/null >"$log" 2>&1 &
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

# A cluster of PRIMARIES primaries with REPLICAS replicas each (redis-cli --cluster create),
# returned once every node sees every slot served and every replica has synced. With --tls the
# bus and replication use TLS too; the nodes tell plain clients their plain ports, TLS clients
# their TLS ports (REDIS_CLUSTER_TLS_URL). The nodes are not jobs of the shell (disowned): a
# test may kill one without the shell reporting it.
redis_cluster_start() {
    local np=${1:?redis_cluster_start PRIMARIES REPLICAS} nr=${2:?redis_cluster_start PRIMARIES REPLICAS} i out
    shift 2
    local total=$((np * (nr + 1))) ports=() pids=() addrs=() taddrs=() tls="" a=("$@") cli=()
    for ((i = 0; i < ${#a[@]}; i++)); do [ "${a[i]}" = --tls ] && tls=${a[i + 1]}; done
    [ -n "$tls" ] && set -- "$@" -- --tls-cluster yes --tls-replication yes && cli=(--tls --cacert "$tls/ca.pem")
    for ((i = 0; i < total; i++)); do
        redis_start --cluster "$@" >/dev/null || return 1
        disown "$REDIS_PID" 2>/dev/null
        ports+=("$REDIS_PORT") pids+=("$REDIS_PID") addrs+=("127.0.0.1:$REDIS_PORT")
        taddrs+=("localhost:${REDIS_TLS_PORT:-0}")
    done
    # with TLS the bus is at the TLS port + 10000: the nodes must meet there
    [ -n "$tls" ] && addrs=("${taddrs[@]/localhost/127.0.0.1}")
    out=$(env -u LD_PRELOAD redis-cli "${cli[@]}" --cluster create "${addrs[@]}" --cluster-replicas "$nr" --cluster-yes 2>&1) ||
        { echo "redis_cluster_start: redis-cli --cluster create failed: $out" >&2; return 1; }
    addrs=("${ports[@]/#/127.0.0.1:}")
    REDIS_CLUSTER_TLS_URL=
    [ -n "$tls" ] && REDIS_CLUSTER_TLS_URL="rediss+cluster://$(IFS=,; echo "${taddrs[*]}")"
    REDIS_CLUSTER_PORTS="${ports[*]}" REDIS_CLUSTER_PIDS="${pids[*]}"
    REDIS_CLUSTER_URL="redis+cluster://$(IFS=,; echo "${addrs[*]}")"
    export REDIS_CLUSTER_PORTS REDIS_CLUSTER_PIDS REDIS_CLUSTER_URL REDIS_CLUSTER_TLS_URL
    redis_cluster_wait "$total" || return 1
}

# Waits (10 s at most) until every node of REDIS_CLUSTER_PORTS that runs says cluster_state:ok
# and knows WANT nodes, and every replica's link to its primary is up.
redis_cluster_wait() {
    local want=$1 i p ok info
    for ((i = 0; i < 200; i++)); do
        ok=1
        for p in $REDIS_CLUSTER_PORTS; do
            info=$(env -u LD_PRELOAD redis-cli -p "$p" cluster info 2>/dev/null) || continue # a stopped node
            case $info in *cluster_state:ok*) ;; *) ok=; break ;; esac
            case $info in *"cluster_known_nodes:$want"*) ;; *) ok=; break ;; esac
            info=$(env -u LD_PRELOAD redis-cli -p "$p" info replication 2>/dev/null)
            case $info in *role:slave*) case $info in *master_link_status:up*) ;; *) ok=; break ;; esac ;; esac
        done
        [ -n "$ok" ] && return 0
        sleep 0.05
    done
    echo "redis_cluster_wait: the cluster did not settle" >&2
    return 1
}

redis_cluster_primary_of() {
    local info
    info=$(env -u LD_PRELOAD redis-cli -p "$1" info replication 2>/dev/null) || return 1
    case $info in
        *role:master*) echo "$1" ;;
        *) printf '%s\n' "$info" | sed -n 's/^master_port:\([0-9]*\).*/\1/p' ;;
    esac
}

redis_sentinels_start() {
    local pport=${1:?redis_sentinels_start PORT NAME N} name=${2:?} n=${3:?} spass="" ppass="" i j try port pid dir log
    local tls="" cli=()
    shift 3
    while [ $# -gt 0 ]; do
        case $1 in
            --password) spass=$2; shift 2 ;;
            --primary-password) ppass=$2; shift 2 ;;
            --tls) tls=$2; cli=(--tls --cacert "$tls/ca.pem"); shift 2 ;;
            *) echo "redis_sentinels_start: unknown option $1" >&2; return 2 ;;
        esac
    done
    command -v redis-sentinel >/dev/null || { echo "redis_sentinels_start: redis-sentinel not installed" >&2; return 1; }
    REDIS_SENTINEL_PORTS="" REDIS_SENTINEL_PIDS=""
    for ((i = 0; i < n; i++)); do
        dir=$(mktemp -d "${TEST_TMP:-${TMPDIR:-/tmp}}/sentinel.XXXXXX") || return 1
        log=$dir/sentinel.log pid=""
        for ((try = 0; try < 20; try++)); do
            port=$((10000 + (RANDOM * 32768 + RANDOM) % 22000))
            {
                if [ -n "$tls" ]; then
                    printf 'port 0\ntls-port %s\ntls-replication yes\ntls-auth-clients no\n' "$port"
                    printf 'tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n' "$tls/server.pem" "$tls/server.key" "$tls/ca.pem"
                else
                    printf 'port %s\n' "$port"
                fi
                printf 'bind 127.0.0.1\ndaemonize no\ndir %s\n' "$dir"
                printf 'sentinel monitor %s 127.0.0.1 %s 2\n' "$name" "$pport"
                printf 'sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 10000\n' "$name" "$name"
                [ -n "$ppass" ] && printf 'sentinel auth-pass %s "%s"\n' "$name" "$ppass"
                [ -n "$spass" ] && printf 'requirepass "%s"\nsentinel sentinel-pass "%s"\n' "$spass" "$spass"
            } >"$dir/sentinel.conf"
            env -u LD_PRELOAD redis-sentinel "$dir/sentinel.conf" </dev/null >"$log" 2>&1 &
            pid=$!
            local up=""
            for ((j = 0; j < 200; j++)); do
                kill -0 "$pid" 2>/dev/null || break
                if env -u LD_PRELOAD ${spass:+REDISCLI_AUTH="$spass"} redis-cli "${cli[@]}" -p "$port" info server 2>/dev/null |
                    grep -q "^process_id:$pid"; then up=1; break; fi
                sleep 0.025
            done
            if [ -z "$up" ]; then
                kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
                grep -q 'Address already in use' "$log" || { cat "$log" >&2; rm -rf "$dir"; return 1; }
            fi
            [ -n "$pid" ] && break
        done
        [ -n "$pid" ] || return 1
        disown "$pid" 2>/dev/null
        _REDIS_PIDS="$_REDIS_PIDS $pid"
        eval "_REDIS_DIR_$pid=\$dir"
        REDIS_SENTINEL_PORTS="$REDIS_SENTINEL_PORTS $port" REDIS_SENTINEL_PIDS="$REDIS_SENTINEL_PIDS $pid"
    done
    REDIS_SENTINEL_PORTS=${REDIS_SENTINEL_PORTS# } REDIS_SENTINEL_PIDS=${REDIS_SENTINEL_PIDS# }
    export REDIS_SENTINEL_PORTS REDIS_SENTINEL_PIDS
    # ready for a failover: each sentinel has found the replicas and the other sentinels
    local m ok
    for ((i = 0; i < 400; i++)); do
        ok=1
        for port in $REDIS_SENTINEL_PORTS; do
            m=$(env -u LD_PRELOAD ${spass:+REDISCLI_AUTH="$spass"} redis-cli "${cli[@]}" -p "$port" sentinel master "$name" 2>/dev/null | tr '\n' ' ')
            case $m in *"num-other-sentinels $((n - 1)) "*) ;; *) ok=; break ;; esac
            case $m in *"num-slaves 0 "*) ok=; break ;; esac
        done
        [ -n "$ok" ] && return 0
        sleep 0.05
    done
    echo "redis_sentinels_start: the sentinels did not find each other and the replicas" >&2
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
