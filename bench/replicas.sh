#!/usr/bin/env bash
# STS AssumeRoleWithWebIdentity against 1 and then 2 `podiam serve` replicas
# sharing one PostgreSQL on this machine, and proof, from PostgreSQL's own
# statistics, that steady-state requests never reach the database.
#
# Starts a throw-away PostgreSQL cluster (initdb as the `postgres` user into
# the temp dir, trust auth, 127.0.0.1 on a free port, no unix socket,
# pg_stat_statements preloaded). Starts replica A
# (`podiam serve --store postgres://…`, its own data dir) and, through A,
# creates a cluster, an IAM OIDC provider and an IRSA role and mints a
# service-account token, as bench/sts-assume.sh does; checks the token gets
# 200 from A. Then:
#
#   phase 1  replica A alone: an idle window (BENCH_IDLE s, no requests), then
#            wrk -cC against A for BENCH_DURATION s
#   phase 2  replica B joins (same store, same --public-url as A); the token
#            minted through A must get 200 from B and A; an idle window, then
#            two wrk processes at once, C/2 connections each, one per replica;
#            req/s is their sum
#
# Around every window: `SELECT pg_stat_statements_reset()` before; after it,
# the statements the podiam database ran (top 10 by calls), their total and
# rate, the client backends in pg_stat_activity and the xact_commit delta
# from pg_stat_database. Reads are served from each replica's cache, so the
# only statements under load should be the replicas' change poll (every
# 250 ms: ~4/s per replica, whatever the request rate), i.e. database
# statements per request ≈ 0.
#
# On a 2-core machine 2 replicas do not double req/s: both replicas, wrk and
# PostgreSQL share the same 2 cores. The podiam CPU µs per request is the
# number to compare.
#
# Everything is on 127.0.0.1; every load run is bounded by BENCH_DURATION and
# every process this script starts (PostgreSQL included) is stopped on exit.
#
# Environment (all optional):
#   PODIAM_BIN          podiam binary to use (default: target/release/podiam,
#                       built with `cargo build --release -p podiam` if missing)
#   PODIAM_BUILD=1      run `cargo build --release -p podiam` even if the
#                       binary exists
#   PG_BIN              PostgreSQL's bin dir (default: the newest
#                       /usr/lib/postgresql/*/bin; if none, `apt-get install
#                       postgresql` is tried, and the script is skipped with
#                       exit 0 if that fails too)
#   BENCH_DURATION      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS   total connections per phase (default 32; even: phase 2
#                       gives each replica half)
#   BENCH_WRK_THREADS   threads per wrk process (default 1)
#   BENCH_IDLE          seconds of the idle window before each load (default 5;
#                       0 skips it)
#   BENCH_WAIT_QUIET=N  before each load run, wait up to N seconds until the
#                       rest of the machine uses < BENCH_QUIET_CORES (0.3)
#                       cores (default 0: don't wait)
#   BENCH_RESULTS_DIR   if set, replicas.tsv is written there
#   BENCH_KEEP_TMP=1    keep the temp dir (logs, PostgreSQL's data dir and
#                       log, tokens, wrk output)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LUA="$HERE/wrk/assume.lua"

DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
IDLE="${BENCH_IDLE:-5}"
WAIT_QUIET="${BENCH_WAIT_QUIET:-0}"
QUIET_CORES="${BENCH_QUIET_CORES:-0.3}"
POLL_PER_SEC=4 # the replicas' change poll: every 250 ms (src/server.rs)
ACCOUNT=000000000000
ROLE_NAME=pod-access-s3-role
ROLE_ARN="arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}"
SA_NS=default
SA_NAME=sa-access-s3
DB=podiam

log() { printf '[replicas] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init replicas
CLK_TCK="$(getconf CLK_TCK)"
PG_PID=""

# PostgreSQL gets a fast shutdown (SIGINT: disconnect the clients, stop)
# before cleanup's SIGTERM, which alone would be a smart shutdown that waits
# for the replicas' connections to go away.
# shellcheck disable=SC2317 # invoked by the EXIT trap
on_exit() {
    local rc=$?
    set +e
    [[ -z "$PG_PID" ]] || kill -INT "$PG_PID" 2>/dev/null
    (exit "$rc")
    cleanup
}
trap on_exit EXIT

if ! [[ "$CONNECTIONS" =~ ^[0-9]+$ ]] || ((CONNECTIONS < 2 || CONNECTIONS % 2)); then
    die "BENCH_CONNECTIONS must be one even number >= 2 (got '$CONNECTIONS')"
fi

# ------------------------------------------------------------------ PostgreSQL

pg_newest_bin() { find /usr/lib/postgresql -path '*/bin/postgres' 2>/dev/null | sort -V | tail -n1 | xargs -r dirname; }

# Sets PG_BIN; exits 0 (skipped) when PostgreSQL can't be had.
ensure_postgres() {
    if [[ -n "${PG_BIN:-}" ]]; then
        [[ -x "$PG_BIN/postgres" ]] || die "PG_BIN=$PG_BIN has no postgres binary"
    else
        PG_BIN="$(pg_newest_bin)"
        if [[ -z "$PG_BIN" ]]; then
            log "PostgreSQL not found; installing it from Debian's packages (as .ci/run does)"
            local sudo=""
            [[ "$(id -u)" == 0 ]] || sudo="sudo"
            { $sudo apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql; } >&2 || true
            PG_BIN="$(pg_newest_bin)"
        fi
        if [[ -z "$PG_BIN" ]]; then
            log "SKIPPED: no PostgreSQL server binaries (set PG_BIN or install postgresql)"
            exit 0
        fi
    fi
    if [[ ! -f "$("$PG_BIN/pg_config" --sharedir)/extension/pg_stat_statements.control" ]]; then
        log "SKIPPED: PostgreSQL in $PG_BIN has no pg_stat_statements extension (postgresql-contrib)"
        exit 0
    fi
    # initdb and postgres refuse to run as root: run them as `postgres`.
    # setpriv execs (no wrapper process), so the server's pid is the
    # postmaster's and a signal to it reaches PostgreSQL itself.
    AS_PG=()
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run PostgreSQL as"
        need setpriv
        AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
    fi
}

# psql as the superuser, in the `postgres` database (not the podiam one, so
# that these queries are not counted with podiam's).
sql() {
    "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U podiam -d postgres -c "$1"
}

pg_start() {
    local dir="$TMP/pg"
    # The postgres user must reach its data dir inside our private TMP.
    [[ "$(id -u)" != 0 ]] || chmod 711 "$TMP"
    install -d -m 700 "$dir"
    [[ "$(id -u)" != 0 ]] || chown postgres: "$dir"
    (cd "$dir" && "${AS_PG[@]}" "$PG_BIN/initdb" -D "$dir/data" -U podiam --auth=trust -E UTF8 --no-sync) \
        >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
    PG_PORT="$(free_port)"
    # fsync=off: only the set-up writes; the measured windows read nothing.
    start_bg postgres "$TMP/postgres.log" "${AS_PG[@]}" "$PG_BIN/postgres" -D "$dir/data" -p "$PG_PORT" \
        -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off \
        -c max_connections=50 -c shared_preload_libraries=pg_stat_statements \
        -c pg_stat_statements.track=all -c pg_stat_statements.track_utility=on
    PG_PID=$BG_PID
    for _ in $(seq 1 300); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        kill -0 "$PG_PID" 2>/dev/null || { cat "$TMP/postgres.log" >&2; die "PostgreSQL exited during start-up"; }
        sleep 0.1
    done
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { cat "$TMP/postgres.log" >&2; die "PostgreSQL did not come up"; }
    sql "CREATE DATABASE $DB" >/dev/null
    sql "CREATE EXTENSION pg_stat_statements" >/dev/null
    PG_URL="postgres://podiam@127.0.0.1:$PG_PORT/$DB"
    log "PostgreSQL $(sql 'SHOW server_version') on 127.0.0.1:$PG_PORT (pid $PG_PID), pg_stat_statements loaded"
}

# ------------------------------------------------- database statistics window

DB_FILTER="dbid = (SELECT oid FROM pg_database WHERE datname = '$DB')"

xact_commit() { sql "SELECT xact_commit FROM pg_stat_database WHERE datname = '$DB'"; }
now() { date +%s.%N; }

# db_begin: zero pg_stat_statements and note xact_commit.
db_begin() {
    sql "SELECT pg_stat_statements_reset()" >/dev/null
    DB_X0="$(xact_commit)"
    DB_T0="$(now)"
}

# db_end LABEL REQUESTS -> prints the window's statements; sets DB_LINE
# (calls= calls_per_s= per_req= xact= xact_per_s= backends= secs=)
db_end() {
    local label=$1 requests=$2 t1 x1 calls backends stmts="$TMP/statements-${1// /-}.txt"
    t1="$(now)"
    # One snapshot: the total is the sum of the rows listed from it.
    sql "SELECT calls, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110)
         FROM pg_stat_statements WHERE $DB_FILTER ORDER BY calls DESC, query" >"$stmts"
    x1="$(xact_commit)"
    backends="$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND backend_type = 'client backend'")"
    calls="$(awk -F'|' '{ s += $1 } END { print s + 0 }' "$stmts")"
    DB_LINE="$(awk -v c="$calls" -v x="$((x1 - DB_X0))" -v b="$backends" -v t0="$DB_T0" -v t1="$t1" -v n="$requests" 'BEGIN {
        s = t1 - t0
        printf "calls=%d calls_per_s=%.2f per_req=%s xact=%d xact_per_s=%.2f backends=%d secs=%.2f",
            c, c / s, (n > 0 ? sprintf("%.6f", c / n) : "-"), x, x / s, b, s }')"
    {
        printf '  %s: PostgreSQL, database %s, %ss window: %s statements (%s/s), xact_commit +%s (%s/s), %s client backends\n' \
            "$label" "$DB" "$(field "$DB_LINE" secs)" "$calls" "$(field "$DB_LINE" calls_per_s)" \
            "$(field "$DB_LINE" xact)" "$(field "$DB_LINE" xact_per_s)" "$backends"
        printf '    %8s %8s  %s\n' calls rows "statement (top 10 by calls)"
        head -n 10 "$stmts" | awk -F'|' '{ printf "    %8s %8s  %s\n", $1, $2, $3 }'
    } >&2
}

# db_idle LABEL: a window of BENCH_IDLE seconds with no requests.
db_idle() {
    ((IDLE > 0)) || { IDLE_LINE=""; return 0; }
    log "$1: idle window, ${IDLE}s without requests"
    db_begin
    sleep "$IDLE"
    db_end "$1 idle" 0
    IDLE_LINE=$DB_LINE
}

# --------------------------------------------------------------- replicas

declare -A URL DATA PID
REPLICAS=()
PUBLIC_URL="" # replica A's URL, given to every replica as --public-url

# start_replica NAME: its own data dir and port; the same store, master key
# and public URL (replica A's) as every other replica.
start_replica() {
    local name=$1 port
    port="$(free_port)"
    DATA[$name]="$TMP/data-$name"
    mkdir -p "${DATA[$name]}"
    URL[$name]="http://127.0.0.1:$port"
    PUBLIC_URL="${PUBLIC_URL:-${URL[$name]}}"
    start_bg "podiam-$name" "$TMP/podiam-$name.log" "$PODIAM_BIN" serve --listen "127.0.0.1:$port" \
        --data-dir "${DATA[$name]}" --store "$PG_URL" --public-url "$PUBLIC_URL"
    PID[$name]=$BG_PID
    wait_line "$BG_PID" "$TMP/podiam-$name.log" 's#^podiam: listening on ##p' >/dev/null
    REPLICAS+=("$name")
    log "replica $name listening on ${URL[$name]} (pid ${PID[$name]}, data dir ${DATA[$name]})"
}

# Cluster, OIDC provider, role and token, all through replica A.
setup() {
    local url=${URL[A]} data=${DATA[A]} issuer_hp
    issuer_hp="${PUBLIC_URL#http://}/clusters/demo"
    local -a penv=(env PODIAM_ENDPOINT="$url" PODIAM_DATA_DIR="$data")
    local -a awsp=(env AWS_SHARED_CREDENTIALS_FILE="$data/admin-credentials" AWS_CONFIG_FILE=/dev/null
                   aws --endpoint-url "$url" --output text)
    "${penv[@]}" "$PODIAM_BIN" cluster create demo >"$TMP/cluster.json"
    "${penv[@]}" "$PODIAM_BIN" token --cluster demo --namespace "$SA_NS" \
        --service-account "$SA_NAME" --token-expiration 86400 >"$TMP/token.jwt"
    "${awsp[@]}" iam create-open-id-connect-provider --url "http://$issuer_hp" \
        --client-id-list sts.amazonaws.com >/dev/null
    write_trust "$issuer_hp" "$TMP/trust.json"
    "${awsp[@]}" iam create-role --role-name "$ROLE_NAME" \
        --assume-role-policy-document "file://$TMP/trust.json" >/dev/null
    write_body "$(cat "$TMP/token.jwt")" "$TMP/body.txt"
    log "through A: cluster demo (issuer http://$issuer_hp), OIDC provider, role $ROLE_NAME, token"
}

# check_ok NAME WHEN: the token (minted through A) gets 200 from replica NAME.
check_ok() {
    local name=$1 out="$TMP/ok-$1-$2.xml" code
    code="$(post "$TMP/body.txt" "${URL[$name]}/" "$out")"
    if [[ "$code" != 200 ]] || ! grep -q '<AssumeRoleWithWebIdentityResponse' "$out" ||
        ! grep -q "<SubjectFromWebIdentityToken>system:serviceaccount:$SA_NS:$SA_NAME<" "$out"; then
        cat "$out" >&2
        die "replica $name ($2): valid token got HTTP $code, expected 200 + AssumeRoleWithWebIdentityResponse"
    fi
    log "replica $name ($2): valid token -> 200 AssumeRoleWithWebIdentityResponse"
}

# ------------------------------------------------------------------ load

group_ticks_of() { # PID... -> summed ticks of their process groups
    local t=0 p
    for p in "$@"; do t=$((t + $(group_ticks "$p"))); done
    echo "$t"
}

# load_phase PHASE: wrk against every replica in REPLICAS at once,
# CONNECTIONS split evenly; sets PHASE_LINE (summed requests= rps= non2xx=
# sock_errs=, p50_us= of the first wrk, p99_us= the highest, cpu fields) and
# prints one line per wrk.
load_phase() {
    local phase=$1 n=${#REPLICAS[@]} c name i
    c=$((CONNECTIONS / n))
    local -a pids=() pgs=() outs=()
    for name in "${REPLICAS[@]}"; do pgs+=("${PID[$name]}"); done
    log "$phase: ${n} wrk process(es), -t$WRK_THREADS -c$c -d${DURATION}s each, one per replica (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
    quiet_wait
    db_begin
    times >"$TMP/times0"
    local s0 p0 m0 s1 p1 m1 w0 w1
    s0="$(group_ticks_of "${pgs[@]}")"; p0="$(group_ticks "$PG_PID")"; m0="$(machine_ticks)"
    # Each wrk in the background under `timeout` (its own process group, so
    # cleanup can stop it) and waited for.
    local saved=("${PIDS[@]:-}")
    for name in "${REPLICAS[@]}"; do
        outs+=("$TMP/wrk-$phase-$name.txt")
        BENCH_BODY_FILE="$TMP/body.txt" timeout --kill-after=5 $((DURATION + 30)) \
            wrk -t"$WRK_THREADS" -c"$c" -d"${DURATION}s" --timeout 5s --latency -s "$LUA" "${URL[$name]}/" \
            >"${outs[-1]}" 2>&1 &
        pids+=($!)
        PIDS+=($!)
    done
    local failed=""
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || failed+=" ${REPLICAS[$i]}"
    done
    PIDS=("${saved[@]}")
    s1="$(group_ticks_of "${pgs[@]}")"; p1="$(group_ticks "$PG_PID")"; m1="$(machine_ticks)"
    times >"$TMP/times1"
    if [[ -n "$failed" ]]; then
        for i in "${!outs[@]}"; do cat "${outs[$i]}" >&2; done
        die "$phase: wrk failed against replica(s)$failed"
    fi
    for name in "${REPLICAS[@]}"; do
        kill -0 "${PID[$name]}" 2>/dev/null ||
            die "$phase: replica $name exited during the load run (rerun with BENCH_KEEP_TMP=1 and see $TMP/podiam-$name.log)"
    done
    w0="$(children_secs "$TMP/times0")"; w1="$(children_secs "$TMP/times1")"

    local line requests=0 rps=0 non2xx=0 errs=0 p50="" p99=0 dur=0
    for i in "${!outs[@]}"; do
        line="$(grep '^BENCH_RESULT' "${outs[$i]}" || true)"
        [[ -n "$line" ]] || { cat "${outs[$i]}" >&2; die "wrk printed no BENCH_RESULT for replica ${REPLICAS[$i]}"; }
        printf '  %s replica %s  c=%-4s %9s req/s  p50 %-8s p99 %-8s non-2xx %s  sock-errs %s\n' "$phase" \
            "${REPLICAS[$i]}" "$c" "$(field "$line" rps)" "$(ms "$(field "$line" p50_us)")" \
            "$(ms "$(field "$line" p99_us)")" "$(field "$line" non2xx)" "$(sock_errs "$line")" >&2
        requests=$((requests + $(field "$line" requests)))
        rps="$(awk -v a="$rps" -v b="$(field "$line" rps)" 'BEGIN{ printf "%.1f", a + b }')"
        non2xx=$((non2xx + $(field "$line" non2xx)))
        errs=$((errs + $(sock_errs "$line")))
        [[ -n "$p50" ]] || p50="$(field "$line" p50_us)"
        ((p99 > $(field "$line" p99_us))) || p99="$(field "$line" p99_us)"
        ((dur > $(field "$line" duration_us))) || dur="$(field "$line" duration_us)"
    done
    db_end "$phase load" "$requests"
    PHASE_LINE="requests=$requests rps=$rps p50_us=$p50 p99_us=$p99 non2xx=$non2xx sock_errs=$errs conns=$c"
    PHASE_LINE+=" $(awk -v s="$((s1 - s0))" -v p="$((p1 - p0))" -v m="$((m1 - m0))" -v w0="$w0" -v w1="$w1" \
        -v hz="$CLK_TCK" -v d="$dur" -v n="$requests" 'BEGIN {
            secs = d / 1e6; srv = s / hz; pg = p / hz; wrk = w1 - w0; tot = m / hz
            oth = tot - srv - pg - wrk; if (oth < 0) oth = 0
            printf "srv_cores=%.2f pg_cores=%.2f wrk_cores=%.2f other_cores=%.2f srv_us_per_req=%.1f",
                srv / secs, pg / secs, wrk / secs, oth / secs, (n > 0 ? srv * 1e6 / n : 0) }')"
    PHASE_LINE+=" $DB_LINE"
}

# -------------------------------------------------------------------- main

need curl
need python3
need aws
ensure_wrk
ensure_postgres
locate_podiam
log "podiam binary: $PODIAM_BIN"
log "PostgreSQL binaries: $PG_BIN"
log "wrk: $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), $WRK_THREADS thread(s) per process, ${DURATION}s per run, $CONNECTIONS connections per phase"
log "machine: $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

# A shared master key for every replica (newer podiam requires one with a
# PostgreSQL store; older binaries ignore the variable).
head -c 32 /dev/urandom | base64 >"$TMP/master.key"
chmod 600 "$TMP/master.key"
export PODIAM_MASTER_KEY_FILE="$TMP/master.key"

pg_start
declare -A RESULT IDLE_RESULT

start_replica A
setup
check_ok A before
db_idle "1 replica"
IDLE_RESULT[1]=$IDLE_LINE
load_phase 1-replica
RESULT[1]=$PHASE_LINE

start_replica B
check_ok B before
check_ok A before-phase-2
db_idle "2 replicas"
IDLE_RESULT[2]=$IDLE_LINE
load_phase 2-replicas
RESULT[2]=$PHASE_LINE

for name in "${REPLICAS[@]}"; do check_ok "$name" after; done
RSS=""
for name in "${REPLICAS[@]}"; do
    RSS+=" $name $(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/${PID[$name]}/status" 2>/dev/null || echo '?')"
done

# ------------------------------------------------------------------- report

echo
echo "STS AssumeRoleWithWebIdentity over loopback, replicas of podiam sharing one PostgreSQL $(sql 'SHOW server_version')"
echo "wrk -t${WRK_THREADS}, ${DURATION}s, $CONNECTIONS connections per phase (2 replicas: two wrk processes, $((CONNECTIONS / 2)) each)"
echo "$(nproc) cores shared by the replicas, PostgreSQL, wrk and anything else running (loadavg at end $(cut -d' ' -f1-3 /proc/loadavg))"
echo "cpu columns: cores used during the run by the podiam replicas / PostgreSQL / wrk / everything else"
echo
printf '%-10s %9s %8s %8s %7s %9s %-23s %9s %9s %8s %10s %10s %8s\n' \
    phase "req/s" p50 p99 non-2xx sock-errs "cpu podiam/pg/wrk/other" "us/req" "db stmts" "stmts/s" "stmts/req" "xact/s" backends
for n in 1 2; do
    l=${RESULT[$n]}
    printf '%-10s %9s %8s %8s %7s %9s %-23s %9s %9s %8s %10s %10s %8s\n' \
        "$n replica$([[ $n == 1 ]] || echo s)" "$(field "$l" rps)" "$(ms "$(field "$l" p50_us)")" "$(ms "$(field "$l" p99_us)")" \
        "$(field "$l" non2xx)" "$(field "$l" sock_errs)" \
        "$(field "$l" srv_cores)/$(field "$l" pg_cores)/$(field "$l" wrk_cores)/$(field "$l" other_cores)" \
        "$(field "$l" srv_us_per_req)" "$(field "$l" calls)" "$(field "$l" calls_per_s)" "$(field "$l" per_req)" \
        "$(field "$l" xact_per_s)" "$(field "$l" backends)"
    if [[ -n "${IDLE_RESULT[$n]}" ]]; then
        l=${IDLE_RESULT[$n]}
        printf '%-10s %9s %8s %8s %7s %9s %-23s %9s %9s %8s %10s %10s %8s\n' \
            "  (idle)" "0" "" "" "" "" "" "" "$(field "$l" calls)" "$(field "$l" calls_per_s)" "" \
            "$(field "$l" xact_per_s)" "$(field "$l" backends)"
    fi
done
echo
echo "max RSS:$RSS"
for n in 1 2; do
    l=${RESULT[$n]}
    awk -v n="$n" -v c="$(field "$l" calls)" -v r="$(field "$l" requests)" -v cs="$(field "$l" calls_per_s)" \
        -v p="$POLL_PER_SEC" 'BEGIN {
        printf "%d replica%s: db statements per request: %.6f (%d statements for %d requests; %.1f/s, the change poll alone is ~%d/s)\n",
            n, (n == 1 ? "" : "s"), (r > 0 ? c / r : 0), c, r, cs, n * p }'
done
awk -v a="$(field "${RESULT[1]}" rps)" -v b="$(field "${RESULT[2]}" rps)" \
    -v ua="$(field "${RESULT[1]}" srv_us_per_req)" -v ub="$(field "${RESULT[2]}" srv_us_per_req)" 'BEGIN {
    printf "2 replicas / 1 replica: %.2fx req/s; podiam CPU per request %s -> %s us\n", (a > 0 ? b / a : 0), ua, ub }'
echo "note: on $(nproc) cores the replicas, wrk and PostgreSQL share the same CPUs, so a second replica cannot"
echo "      double req/s here; it shows that replicas serve from their own caches (stmts/req ~ 0), not scaling."
busiest="$(awk -v a="$(field "${RESULT[1]}" other_cores)" -v b="$(field "${RESULT[2]}" other_cores)" 'BEGIN{ print (b > a ? b : a) }')"
if awk -v b="$busiest" 'BEGIN{ exit !(b > 0.15) }'; then
    echo "WARNING: other processes used up to $busiest cores during these runs, so req/s is depressed;"
    echo "         compare 'us/req', or rerun with BENCH_WAIT_QUIET=180."
fi

if [[ -n "${BENCH_RESULTS_DIR:-}" ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    out="$BENCH_RESULTS_DIR/replicas.tsv"
    cols="requests rps p50_us p99_us non2xx sock_errs srv_cores pg_cores wrk_cores other_cores srv_us_per_req calls calls_per_s per_req xact xact_per_s backends"
    { printf 'bench\treplicas\tconnections'; for k in $cols; do printf '\t%s' "$k"; done; echo; } |
        sed 's/\tcalls\t/\tdb_statements\t/; s/\tcalls_per_s\t/\tdb_statements_per_s\t/; s/\tper_req\t/\tdb_statements_per_request\t/; s/\txact\t/\txact_commit\t/; s/\txact_per_s\t/\txact_commit_per_s\t/' >"$out"
    for n in 1 2; do
        { printf 'replicas\t%s\t%s' "$n" "$CONNECTIONS"; for k in $cols; do printf '\t%s' "$(field "${RESULT[$n]}" "$k")"; done; echo; } >>"$out"
    done
    log "wrote $out"
fi
exit 0
