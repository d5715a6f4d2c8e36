#!/usr/bin/env bash
# run.sh — `make bench` (and, with BENCH_SMOKE=1, `make bench-smoke`: tiny N, one round, only
# proves that every part still runs and the table is printed; timings are never judged there).
# In one invocation: the floor, shim hits per tier, nginx as a caching peer, miss overhead,
# preload cost, time to first event, 16 concurrent misses, file-tier scale. Every measurement
# goes to build/bench/raw.tsv as "round case body answer key=value..."; report.py turns it into
# the table, build/bench/results.json and results.png. What each row measures:
# tests/bench/README.md. Settings: BENCH_ROUNDS, BENCH_N, BENCH_SCALE (entries for the large store).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build
OUT=$B/bench
[ -n "${BENCH_SMOKE:-}" ] && OUT=$B/bench-smoke # a make check beside a make bench must not clobber it
SHIM_LIB=$B/libllmshim.so
CLIENT=$B/bench/client FLOOR=$B/bench/floor GEN=$B/bench/gen EMPTY=$B/bench/empty.so
for f in "$SHIM_LIB" "$CLIENT" "$FLOOR" "$GEN" "$EMPTY"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "bench: $f is missing (run make bench)" >&2; exit 1; }
done

SMOKE=${BENCH_SMOKE:-}
if [ -n "$SMOKE" ]; then
    ROUNDS=1 N=${BENCH_N:-20} NMISS=3 NTTFE=2 NPRE=20 SCALE=${BENCH_SCALE:-200} EVDELAY=1 NFIRST=3
else
    ROUNDS=${BENCH_ROUNDS:-5} N=${BENCH_N:-1000} NMISS=40 NTTFE=10 NPRE=300 SCALE=${BENCH_SCALE:-1000000} EVDELAY=10 NFIRST=30
fi
BODIES="1024 4096 65536"
ANSWERS="2048 204800"
# redis-tls: the same redis-server through its TLS port; redis-cluster: a cluster of 3 primaries
TIERS="memory file redis redis-tls redis-cluster memory,file memory,redis"

# Nothing from the developer's shell or config files may change what is measured.
for v in $(env | sed -n 's/^\(LLMSHIM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD
mkdir -p "$OUT"
# one run per directory at a time: a second one waits (several checkouts may share a machine)
exec 9>"$OUT/.lock"
flock -n 9 || { echo "bench: another run is using $OUT; waiting" >&2; flock 9; }
rm -rf "$OUT/run" "$OUT/store" "$OUT/nginx"
mkdir -p "$OUT/run/xdg" "$OUT/store"
export XDG_CONFIG_HOME=$OUT/run/xdg TEST_TMP=$OUT/run
cd "$OUT/run" || exit 1
RAW=$OUT/raw.tsv
: >"$RAW"

. "$ROOT/tests/e2e/mock.sh"
. "$ROOT/tests/redis.sh"
# shellcheck disable=SC2034 # read by mock_start
MOCK_SCRIPT=$ROOT/tests/bench/mock_nodelay.py # see there: no 40 ms delayed-ACK stalls

NGINX_PID=""
cleanup() {
    [ -n "$NGINX_PID" ] && { kill -TERM "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; }
    redis_stop >/dev/null 2>&1
    mock_stop >/dev/null 2>&1
    # the scale store is GBs of small files: kept only on request
    [ -z "${BENCH_KEEP:-}" ] && rm -rf "$OUT/store"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

mock_start >/dev/null || die "the mock LLM server did not start"
CERTS=$OUT/run/certs
bash "$ROOT/tests/redis_certs.sh" "$CERTS" || die "cannot make the TLS test certificates"
redis_cluster_start 3 0 >/dev/null || die "the redis cluster did not start"
CLUSTER_URL=$REDIS_CLUSTER_URL
# last, so that REDIS_PORT is the single server's, for the PING rows
redis_start --tls "$CERTS" >/dev/null || die "redis-server did not start"
PLAIN_URL=redis://127.0.0.1:$REDIS_PORT/0 TLS_URL=$REDIS_URL
URL=$MOCK_URL/v1/chat/completions
SPEECH=$MOCK_URL/v1/audio/speech BIN=5242880

# record ROUND CASE BODY ANSWER CMD...: runs CMD, appends its key=value line to raw.tsv.
record() {
    local round=$1 case=$2 body=$3 answer=$4 out
    shift 4
    out=$("$@" 2>"$OUT/run/last.err") || die "$case (body $body, answer $answer) failed: $(tail -3 "$OUT/run/last.err")"
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$case" "$body" "$answer" "$out" >>"$RAW"
}

# SH=(env ...): the shim preloaded for one tier, with its own file store, the mock an LLM endpoint.
shim_env() { # TIER DIR
    local backend=$1 url=$PLAIN_URL ca=""
    case $1 in
        redis-tls) backend=redis url=$TLS_URL ca=$CERTS/ca.pem ;;
        redis-cluster) backend=redis url=$CLUSTER_URL ;;
    esac
    SH=(env LD_PRELOAD="$SHIM_LIB" LLMSHIM_BACKEND="$backend" LLMSHIM_DIR="$2" LLMSHIM_ENDPOINTS="$MOCK_URL/v1"
        LLMSHIM_REDIS_URL="$url" ${ca:+LLMSHIM_REDIS_CA="$ca"})
}

# record_first ROUND CASE TIER: the first request of fresh processes, each one a hit (the entry
# is there from the tier rows): connecting to Redis (and the TLS handshake) included.
record_first() {
    local round=$1 case=$2 tier=$3 i out vals=()
    shim_env "$tier" "$OUT/store/first"
    for ((i = 0; i < NFIRST; i++)); do
        out=$("${SH[@]}" "$CLIENT" --url "$URL" -n 1 --warmup 0 --body-bytes 1024 --answer-bytes 2048 \
            --seq-start 2048 2>"$OUT/run/last.err") || die "$case failed: $(tail -3 "$OUT/run/last.err")"
        case $out in *"hits=1 "*) ;; *) die "$case: not a hit: $out" ;; esac
        vals+=("$(sed -n 's/.*[^_]p50_us=\([0-9.]*\).*/\1/p' <<<" $out")")
    done
    printf '%s\t%s\t1024\t2048\t%s\n' "$round" "$case" "$(/usr/bin/python3 -c '
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print("n=%d hits=%d p50_us=%.2f p99_us=%.2f mean_us=%.2f min_us=%.2f" % (len(v), len(v), statistics.median(v),
      v[min(len(v) - 1, int(round((len(v) - 1) * 0.99)))], statistics.mean(v), v[0]))' "${vals[@]}")" >>"$RAW"
}

# ---- nginx: a POST-caching reverse proxy in front of the mock ------------------------------
nginx_start() {
    command -v nginx >/dev/null || { note "nginx is not installed (make bench-deps): no peer row"; return 1; }
    local d=$OUT/nginx port try i user=""
    [ "$(id -u)" = 0 ] && user="user root;" # workers must read the cache this user's dirs hold
    for ((try = 0; try < 20; try++)); do
        rm -rf "$d"; mkdir -p "$d/cache" "$d/tmp" "$d/logs"
        port=$((20000 + RANDOM % 12000))
        cat >"$d/nginx.conf" <<EOF
$user
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    proxy_cache_path $d/cache levels=1:2 keys_zone=llm:16m max_size=4g inactive=1d use_temp_path=off;
    upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 8; }
    server {
        listen 127.0.0.1:$port;
        client_max_body_size 1m;
        client_body_buffer_size 128k;    # the whole body in memory: \$request_body is empty otherwise
        location = /__nginx { return 200 "ok\n"; }
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 128k;          # it holds the cache key, body included
            proxy_buffers 16 32k;
            proxy_busy_buffers_size 256k;
            proxy_cache llm;
            proxy_cache_methods POST;
            proxy_cache_key "\$request_method|\$request_uri|\$request_body";
            proxy_cache_valid 200 1d;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
            proxy_hide_header Set-Cookie;
            add_header X-Cache-Status \$upstream_cache_status;
        }
    }
}
EOF
        env -u LD_PRELOAD nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" </dev/null >"$d/logs/stdout" 2>&1 &
        NGINX_PID=$!
        for ((i = 0; i < 100; i++)); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            if env -u LD_PRELOAD curl -sf --noproxy '*' "http://127.0.0.1:$port/__nginx" >/dev/null 2>&1; then
                NGINX_URL=http://127.0.0.1:$port/v1/chat/completions
                return 0
            fi
            sleep 0.05
        done
        kill -TERM "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; NGINX_PID=""
        grep -q 'Address already in use' "$d/logs/error.log" "$d/logs/stdout" 2>/dev/null || break
    done
    note "nginx did not start: $(tail -3 "$d/logs/error.log" 2>/dev/null)"
    return 1
}
HAVE_NGINX=""
nginx_start && HAVE_NGINX=1

# ---- the large file store for the scale rows ------------------------------------------------
# Entries written by gen (the project's own naming and format), 2 writers at once.
gen_store() { # DIR COUNT
    local dir=$1 count=$2 half=$(( $2 / 2 ))
    mkdir -p "$dir"
    env LLMSHIM_DIR="$dir" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" "$GEN" --url "$URL" --from 0 --to "$half" &
    local p=$!
    env LLMSHIM_DIR="$dir" LLMSHIM_ENDPOINTS="$MOCK_URL/v1" "$GEN" --url "$URL" --from "$half" --to "$count" || return 1
    wait "$p"
}
SMALL=1000
[ "$SCALE" -lt $((SMALL * 10)) ] && SMALL=$((SCALE / 10))
# about 4 KiB of disk per entry (one block each) and an inode: scale down when space is short
avail_kb=$(df -Pk "$OUT" | awk 'NR==2 {print $4}')
need_kb=$((SCALE * 5))
if [ "$avail_kb" -lt $((need_kb + 2 * 1024 * 1024)) ]; then
    SCALE=$(( (avail_kb - 2 * 1024 * 1024) / 5 ))
    [ "$SCALE" -lt $((SMALL * 10)) ] && SCALE=$((SMALL * 10))
    note "only $((avail_kb / 1024)) MiB free under $OUT: the large store is scaled down to $SCALE entries"
fi
note "writing $SMALL and $SCALE cache entries for the scale rows"
t0=$(date +%s)
gen_store "$OUT/store/scale-small" "$SMALL" || die "gen failed"
gen_store "$OUT/store/scale-large" "$SCALE" || die "gen failed"
note "entries written in $(( $(date +%s) - t0 )) s"
NSCALE=$(( N < SMALL ? N : SMALL ))
printf 'meta\tscale\t%s\t%s\tsmall=%s large=%s\n' 0 0 "$SMALL" "$SCALE" >>"$RAW"

# ---- the rounds ---------------------------------------------------------------------------
for ((r = 1; r <= ROUNDS; r++)); do
    note "round $r of $ROUNDS"
    record "$r" ping 0 0 "$FLOOR" --ping "$REDIS_PORT" -n "$N"
    # what a Redis hit fetches: one GET of an encoded entry (1 KiB question, 2 KiB answer: ~4 KiB)
    record "$r" get 0 0 "$FLOOR" --ping "$REDIS_PORT" --get-bytes 3900 -n "$N"
    for body in $BODIES; do
        for answer in $ANSWERS; do
            # the answer size rides on a header, not in the key: each size gets its own question
            seq=$answer
            n=$N # the large cases take milliseconds each: fewer of them
            [ "$body" -ge 65536 ] || [ "$answer" -ge 204800 ] && n=$(( N / 4 > 10 ? N / 4 : N ))
            record "$r" floor "$body" "$answer" env LLMSHIM_ENDPOINTS="$MOCK_URL/v1" LLMSHIM_DIR="$OUT/store/floor" \
                "$FLOOR" --url "$URL" --body-bytes "$body" --seq "$seq" -n "$n"
            for tier in $TIERS; do
                shim_env "$tier" "$OUT/store/${tier/,/-}"
                record "$r" "$tier" "$body" "$answer" "${SH[@]}" "$CLIENT" --url "$URL" -n "$n" \
                    --body-bytes "$body" --answer-bytes "$answer" --seq-start "$seq"
            done
            [ -n "$HAVE_NGINX" ] && record "$r" nginx "$body" "$answer" \
                "$CLIENT" --url "$NGINX_URL" -n "$n" --body-bytes "$body" --answer-bytes "$answer" --seq-start "$seq"
        done
    done

    # a binary answer of 5 MiB (speech audio, stored as base64): one question asked n times, with
    # the shim (memory, file) and without it (the mock answering over loopback every time)
    nbin=$(( N / 20 > 5 ? N / 20 : 5 ))
    record "$r" bin-floor 1024 $BIN env LLMSHIM_ENDPOINTS="$MOCK_URL/v1" LLMSHIM_DIR="$OUT/store/floor" \
        "$FLOOR" --url "$SPEECH" --body-bytes 1024 --seq $BIN -n "$nbin"
    for tier in memory file; do
        shim_env "$tier" "$OUT/store/bin-$tier"
        record "$r" "bin-$tier" 1024 $BIN "${SH[@]}" "$CLIENT" --url "$SPEECH" -n "$nbin" --warmup 2 \
            --body-bytes 1024 --answer-bytes $BIN --seq-start $BIN
    done
    record "$r" bin-none 1024 $BIN "$CLIENT" --url "$SPEECH" -n "$nbin" --warmup 2 --body-bytes 1024 \
        --answer-bytes $BIN --seq-start $BIN
    bin_entry=$(find "$OUT/store/bin-file" -name '*.json' | head -1)
    [ -n "$bin_entry" ] && printf 'meta\tbin\t0\t0\tbin_entry_bytes=%s\n' "$(stat -c %s "$bin_entry")" >>"$RAW"

    # a fresh process's first request: a Redis hit over plain TCP, then over TLS (the handshake);
    # and what reading the system's CA bundle costs a TLS store once per process
    record_first "$r" first-redis redis
    record_first "$r" first-redis-tls redis-tls
    record "$r" tls-conf 0 0 "$FLOOR" --tls-conf /etc/ssl/certs/ca-certificates.crt -n "$NFIRST"

    # misses: a new question each time (seq ranges never reused), the mock answering every one,
    # at once and after 20 ms (an upstream still far quicker than any real model)
    base=$((r * 10000000))
    for d in 0 20; do
        sfx=""; [ "$d" != 0 ] && sfx=-${d}ms
        record "$r" "miss-none$sfx" 1024 2048 "$CLIENT" --url "$URL" --vary -n "$NMISS" --warmup 3 \
            --delay "$d" --seq-start $((base + d * 100000))
        for tier in file memory; do
            shim_env "$tier" "$OUT/store/miss-$r"
            record "$r" "miss-$tier$sfx" 1024 2048 "${SH[@]}" "$CLIENT" --url "$URL" --vary -n "$NMISS" \
                --warmup 3 --delay "$d" --seq-start $((base + d * 100000 + ${#tier} * 10000))
        done
    done

    # time to first event of a streamed miss (events 10 ms apart), with and without the shim
    for d in 0 20; do
        sfx=""; [ "$d" != 0 ] && sfx=-${d}ms
        record "$r" "ttfe-none$sfx" 1024 0 "$CLIENT" --url "$URL" --vary --stream --event-delay "$EVDELAY" \
            -n "$NTTFE" --warmup 1 --delay "$d" --seq-start $((base + 3000000 + d * 1000))
        shim_env file "$OUT/store/ttfe-$r"
        record "$r" "ttfe-file$sfx" 1024 0 "${SH[@]}" "$CLIENT" --url "$URL" --vary --stream \
            --event-delay "$EVDELAY" -n "$NTTFE" --warmup 1 --delay "$d" --seq-start $((base + 4000000 + d * 1000))
    done

    # preload cost on a process that never touches libcurl: fork+exec+wait timed with no preload,
    # an empty library (what any LD_PRELOAD costs) and the shim, alternating run by run; hyperfine,
    # when installed, as a cross-check (one command after the other, so more exposed to drift)
    out=$("$CLIENT" --spawn /bin/true --preload "$EMPTY,$SHIM_LIB" -n "$NPRE") || die "spawn timing failed"
    for c in plain:plain lib1:empty lib2:preload; do
        printf '%s\tspawn-%s\t0\t0\t%s\n' "$r" "${c#*:}" \
            "$(tr ' ' '\n' <<<"$out" | sed -n "s/^${c%:*}_//p" | tr '\n' ' ')" >>"$RAW"
    done
    if command -v hyperfine >/dev/null; then
        for c in plain preload; do
            pre=(); [ $c = preload ] && pre=(LD_PRELOAD="$SHIM_LIB")
            env "${pre[@]}" hyperfine -N -w 20 -r "$NPRE" --style none --export-json "$OUT/run/hf.json" /bin/true \
                >/dev/null 2>&1 || die "hyperfine failed"
            line=$(/usr/bin/python3 -c 'import json,sys; x=json.load(open(sys.argv[1]))["results"][0]; print("p50_us=%.2f mean_us=%.2f min_us=%.2f n=%d" % (x["median"]*1e6, x["mean"]*1e6, x["min"]*1e6, len(x["times"])))' "$OUT/run/hf.json")
            printf '%s\t%s\t0\t0\t%s\n' "$r" "hyperfine-$c" "$line" >>"$RAW"
        done
    fi

    # 16 processes ask one new question at the same instant; the mock counts who reached it
    for tier in file redis; do
        mock_reset || die "mock reset"
        at=$(( $(date +%s%N) + 300000000 ))
        pids=()
        shim_env "$tier" "$OUT/store/conc-$r"
        for ((i = 0; i < 16; i++)); do
            "${SH[@]}" "$CLIENT" --url "$URL" -n 1 --delay 200 \
                --seq-start $((base + 5000000 + ${#tier})) --start-at "$at" >/dev/null 2>&1 &
            pids+=($!)
        done
        ok=0
        for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
        printf '%s\tconc-%s\t1024\t2048\tprocs=16 ok=%s upstream=%s\n' "$r" "$tier" "$ok" "$(mock_count)" >>"$RAW"
    done

    # file-tier hits spread over a small and a large store (different questions each request)
    for s in small large; do
        count=$SMALL; [ $s = large ] && count=$SCALE
        shim_env file "$OUT/store/scale-$s"
        record "$r" "scale-$s" 1024 2048 "${SH[@]}" "$CLIENT" --url "$URL" --vary \
            -n "$NSCALE" --warmup 2 --seq-stride $((count / NSCALE))
    done
done

{
    printf 'meta\tmachine\t0\t0\tnproc=%s date=%s cpu=%s\n' "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr ' ' '_')"
    printf 'meta\tsmoke\t0\t0\tsmoke=%s rounds=%s n=%s\n' "${SMOKE:-0}" "$ROUNDS" "$N"
} >>"$RAW"
/usr/bin/python3 "$ROOT/tests/bench/report.py" "$RAW" "$OUT" || die "report failed"
