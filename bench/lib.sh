# Shared by the benchmark scripts: process control, wrk, CPU accounting,
# result fields and the STS request. The caller defines log() and the PIDS,
# WRK_PID, TMP, WAIT_QUIET, QUIET_CORES and CLK_TCK variables before using
# them (write_body and write_trust also ACCOUNT, ROLE_ARN, SA_NS and SA_NAME).

die() { log "ERROR: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required"; }

# Stops one server started by start_bg, by pid (its own process group).
stop_bg() {
    local pid=$1
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]:-}"; do [[ "$p" == "$pid" || -z "$p" ]] || keep+=("$p"); done
    PIDS=("${keep[@]:-}")
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    if [[ -n "$WRK_PID" ]]; then
        kill -TERM -- "-$WRK_PID" 2>/dev/null || kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        # Each server runs in its own process group (setsid) led by $pid.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${BENCH_KEEP_TMP:-0}" == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}

ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return
    log "wrk not found; installing it from Debian's packages"
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    $sudo apt-get update >&2
    $sudo apt-get install -y wrk >&2
    command -v wrk >/dev/null 2>&1 || die "could not install wrk"
}

free_port() { free_ports 1; }

# free_ports N: N distinct free loopback ports, one per line (each socket is
# held until all are chosen, so none is handed out twice).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
for s in held:
    print(s.getsockname()[1])
PY
}

# start_bg NAME LOGFILE CMD... ; sets BG_PID
start_bg() {
    local name=$1 logf=$2
    shift 2
    setsid "$@" >"$logf" 2>&1 </dev/null &
    BG_PID=$!
    PIDS+=("$BG_PID")
    log "started $name (pid $BG_PID)"
}

# wait_line PID LOGFILE SED_EXPR -> prints the first match (waits up to 30 s)
wait_line() {
    local pid=$1 logf=$2 expr=$3 v=""
    for _ in $(seq 1 300); do
        v="$(sed -n "$expr" "$logf" | head -n1)"
        [[ -n "$v" ]] && { printf '%s' "$v"; return 0; }
        kill -0 "$pid" 2>/dev/null || { cat "$logf" >&2; die "pid $pid exited during start-up"; }
        sleep 0.1
    done
    cat "$logf" >&2
    die "no '$expr' in $logf"
}

# CPU ticks (user+sys) of every live process in process group $1.
group_ticks() {
    # cat, not awk FILES: processes come and go while the list is read, and
    # mawk stops at the first file it cannot open.
    cat /proc/[0-9]*/stat 2>/dev/null |
        awk -v pg="$1" '{ sub(/^.*\) /, ""); split($0, a, " "); if (a[3] == pg) s += a[12] + a[13] } END { print s + 0 }' || true
}

# Busy ticks of the whole machine (all cores).
machine_ticks() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# CPU seconds of this shell's waited-for children (wrk among them), from a
# file written by `times` -- which must run in this shell, not in $(...).
children_secs() {
    tail -n1 "$1" | awk '{ t = 0; for (i = 1; i <= NF; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); t += p[1] * 60 + p[2] } print t }'
}

# Waits (up to BENCH_WAIT_QUIET seconds) until the rest of the machine uses
# less than BENCH_QUIET_CORES cores, measured over 1 s; the servers under test
# are idle at that point, so anything busy is someone else.
quiet_wait() {
    local limit=$WAIT_QUIET waited=0 m0 m1 busy
    ((limit > 0)) || return 0
    while :; do
        m0="$(machine_ticks)"; sleep 1; m1="$(machine_ticks)"
        busy="$(awk -v d="$((m1 - m0))" -v hz="$CLK_TCK" 'BEGIN{ printf "%.2f", d / hz }')"
        if awk -v b="$busy" -v q="$QUIET_CORES" 'BEGIN{ exit !(b < q) }'; then
            ((waited == 0)) || log "machine quiet after ${waited}s (${busy} cores busy)"
            return 0
        fi
        waited=$((waited + 1))
        ((waited == 1)) && log "waiting up to ${limit}s for the machine to go quiet (${busy} cores busy elsewhere)"
        if ((waited >= limit)); then
            log "still ${busy} cores busy elsewhere after ${limit}s; measuring anyway (see the 'other' column)"
            return 0
        fi
    done
}

field() { # LINE KEY
    local kv
    for kv in $1; do
        [[ "$kv" == "$2="* ]] && { printf '%s' "${kv#*=}"; return; }
    done
}

ms() { awk -v u="$1" 'BEGIN{ if (u >= 100000) printf "%.0fms", u/1000; else printf "%.2fms", u/1000 }'; }

sock_errs() {
    echo $(( $(field "$1" connect_err) + $(field "$1" read_err) + $(field "$1" write_err) + $(field "$1" timeout_err) ))
}

# Common start of every benchmark: no AWS or podiam settings of the caller
# leak into a target, a private TMP, and cleanup on any exit.
bench_init() { # NAME
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
          AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_IAM \
          AWS_ENDPOINT_URL_S3 AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE PODIAM_ENDPOINT \
          PODIAM_DATA_DIR PODIAM_LISTEN PODIAM_PUBLIC_URL PODIAM_CLUSTER 2>/dev/null || true
    export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER="" AWS_MAX_ATTEMPTS=1
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/podiam-bench-$1.XXXXXX")"
    PIDS=()
    WRK_PID=""
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# The release binary (PODIAM_BIN, else built or found under the target dir);
# needs ROOT.
locate_podiam() {
    if [[ -n "${PODIAM_BIN:-}" ]]; then
        [[ -x "$PODIAM_BIN" ]] || die "PODIAM_BIN=$PODIAM_BIN is not executable"
        return
    fi
    local target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
    PODIAM_BIN="$target_dir/release/podiam"
    if [[ ! -x "$PODIAM_BIN" || "${PODIAM_BUILD:-0}" == 1 ]]; then
        log "building podiam (cargo build --release -p podiam)"
        (cd "$ROOT" && cargo build --release -p podiam) >&2
    else
        local newer
        # Benches and tests are not part of the binary.
        newer="$(find "$ROOT/src" "$ROOT/crates" \( -name benches -o -name tests \) -prune -o \
            -name '*.rs' -newer "$PODIAM_BIN" -print -quit 2>/dev/null || true)"
        if [[ -n "$newer" ]]; then
            log "WARNING: $PODIAM_BIN is older than $newer; rerun with PODIAM_BUILD=1 to rebuild"
        fi
    fi
    [[ -x "$PODIAM_BIN" ]] || die "no podiam binary at $PODIAM_BIN"
}

# locate_example NAME PACKAGE: prints the path of a release example binary,
# built first if missing (or with PODIAM_BUILD=1); needs ROOT.
locate_example() {
    local bin="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/$1"
    if [[ ! -x "$bin" || "${PODIAM_BUILD:-0}" == 1 ]]; then
        log "building the $1 example (cargo build --release -p $2 --example $1)"
        (cd "$ROOT" && cargo build --release -p "$2" --example "$1") >&2
    fi
    [[ -x "$bin" ]] || die "no $1 example at $bin"
    printf '%s' "$bin"
}

# ------------------------------------- STS AssumeRoleWithWebIdentity requests

# post BODYFILE URL OUTFILE -> prints the HTTP status
post() {
    curl -sS --max-time 10 -o "$3" -w '%{http_code}' \
        -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' \
        --data-binary "@$1" "$2"
}

urlencode() {
    python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

write_body() { # TOKEN FILE
    printf 'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%s&RoleSessionName=bench&WebIdentityToken=%s' \
        "$(urlencode "$ROLE_ARN")" "$1" >"$2"
}

write_trust() { # ISSUER_HOST_PATH FILE
    cat >"$2" <<EOF
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::${ACCOUNT}:oidc-provider/$1"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"$1:aud":"sts.amazonaws.com","$1:sub":"system:serviceaccount:${SA_NS}:${SA_NAME}"}}}]}
EOF
}

# The caller defines DURATION, WRK_THREADS and CLK_TCK, and waits for a quiet
# machine first if it wants to (quiet_wait).
# wrk_run NAME URL SCRIPT CONNS PGID [INPUT_FILE] -> sets RUN_LINE: the
# BENCH_RESULT line plus srv_cores= wrk_cores= other_cores= srv_us_per_req=.
# INPUT_FILE is the script's input: assume.lua reads it as the body
# (BENCH_BODY_FILE), signed.lua as the whole signed request (BENCH_REQUEST_FILE).
wrk_run() {
    local name=$1 url=$2 script=$3 c=$4 pg=$5 reqf=${6:-} out line
    out="$TMP/wrk-$name-c$c.txt"
    local s0 m0 w0 s1 m1 w1
    times >"$TMP/times0"
    s0="$(group_ticks "$pg")"; m0="$(machine_ticks)"
    BENCH_BODY_FILE="$reqf" BENCH_REQUEST_FILE="$reqf" timeout --kill-after=5 $((DURATION + 30)) \
        wrk -t"$WRK_THREADS" -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$script" "$url" >"$out" 2>&1 &
    WRK_PID=$!
    if ! wait "$WRK_PID"; then
        WRK_PID=""
        cat "$out" >&2
        die "wrk failed against $name"
    fi
    WRK_PID=""
    s1="$(group_ticks "$pg")"; m1="$(machine_ticks)"
    kill -0 "$pg" 2>/dev/null ||
        die "$name: the server (pid $pg) exited during the load run (rerun with BENCH_KEEP_TMP=1 and see its log in $TMP)"
    times >"$TMP/times1"
    w0="$(children_secs "$TMP/times0")"; w1="$(children_secs "$TMP/times1")"
    line="$(grep '^BENCH_RESULT' "$out" || true)"
    [[ -n "$line" ]] || { cat "$out" >&2; die "wrk printed no BENCH_RESULT for $name"; }
    RUN_LINE="$line $(awk -v s="$((s1 - s0))" -v m="$((m1 - m0))" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" \
        -v d="$(field "$line" duration_us)" -v n="$(field "$line" requests)" 'BEGIN {
            secs = d / 1e6; srv = s / hz; wrk = w1 - w0; tot = m / hz; oth = tot - srv - wrk; if (oth < 0) oth = 0
            printf "srv_cores=%.2f wrk_cores=%.2f other_cores=%.2f srv_us_per_req=%.1f",
                srv / secs, wrk / secs, oth / secs, (n > 0 ? srv * 1e6 / n : 0) }')"
}

print_run() { # LABEL CONNS LINE
    printf '  %-22s c=%-4s %9s req/s  p50 %-8s p99 %-8s non-2xx %s  sock-errs %s  cpu: server %s wrk %s other %s cores, server %sus/req\n' \
        "$1" "$2" "$(field "$3" rps)" "$(ms "$(field "$3" p50_us)")" "$(ms "$(field "$3" p99_us)")" \
        "$(field "$3" non2xx)" "$(sock_errs "$3")" "$(field "$3" srv_cores)" "$(field "$3" wrk_cores)" \
        "$(field "$3" other_cores)" "$(field "$3" srv_us_per_req)" >&2
}
