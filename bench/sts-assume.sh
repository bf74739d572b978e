#!/usr/bin/env bash
# STS AssumeRoleWithWebIdentity throughput: podiam vs moto, side by side.
#
# Starts podiam (release build) on a free loopback port with a throw-away data
# dir, creates a cluster, an IAM OIDC provider and an IRSA role, mints a
# service-account token, checks that a valid token gets 200 and a
# wrong-namespace token gets 403, then drives unsigned
# `POST / Action=AssumeRoleWithWebIdentity` with wrk for a fixed duration at a
# few connection counts and keeps the best. Then does the same against
# `moto_server` and prints a table plus the podiam/moto ratio.
#
# Everything is on 127.0.0.1; every load run is bounded by BENCH_DURATION and
# every process this script starts is stopped on exit.
#
# Environment (all optional):
#   PODIAM_BIN          podiam binary to use (default: target/release/podiam,
#                       built with `cargo build --release -p podiam` if missing)
#   PODIAM_BUILD=1      run `cargo build --release -p podiam` even if the
#                       binary exists (cargo makes this a no-op when fresh)
#   MOTO_SERVER         moto_server executable (default: moto_server on PATH)
#   BENCH_DURATION      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS   space-separated connection counts to try (default "16 64")
#   BENCH_WRK_THREADS   wrk threads (default 1: the machine has 2 cores)
#   BENCH_TARGETS       "podiam moto" (default) or just one of them
#   BENCH_RESULTS_DIR   if set, a TSV of the best runs is written there
#   BENCH_KEEP_TMP=1    keep the temp dir (logs, tokens, wrk output)
#   PODIAM_LOG          podiam's log filter (default: podiam's own, "info")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LUA="$HERE/wrk/assume.lua"

DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-16 64}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
TARGETS="${BENCH_TARGETS:-podiam moto}"
MOTO_SERVER="${MOTO_SERVER:-moto_server}"
ACCOUNT=000000000000
ROLE_NAME=pod-access-s3-role
ROLE_ARN="arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}"
SA_NS=default
SA_NAME=sa-access-s3

log() { printf '[sts-assume] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Never let the caller's AWS settings leak into either target.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
      AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_IAM \
      AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE PODIAM_ENDPOINT PODIAM_DATA_DIR \
      PODIAM_LISTEN PODIAM_PUBLIC_URL 2>/dev/null || true
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER="" AWS_MAX_ATTEMPTS=1

TMP="$(mktemp -d "${TMPDIR:-/tmp}/podiam-bench-sts.XXXXXX")"
PIDS=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        # Each server runs in its own process group (setsid) led by $pid.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        local i
        for i in $(seq 1 50); do
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
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stops one server started by start_bg, by pid (its own process group).
stop_bg() {
    local pid=$1 i
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]:-}"; do [[ "$p" == "$pid" || -z "$p" ]] || keep+=("$p"); done
    PIDS=("${keep[@]:-}")
}

# ---------------------------------------------------------------- prerequisites

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
        newer="$(find "$ROOT/src" "$ROOT/crates" -name '*.rs' -newer "$PODIAM_BIN" -print -quit 2>/dev/null || true)"
        if [[ -n "$newer" ]]; then
            log "WARNING: $PODIAM_BIN is older than $newer; rerun with PODIAM_BUILD=1 to rebuild"
        fi
    fi
    [[ -x "$PODIAM_BIN" ]] || die "no podiam binary at $PODIAM_BIN"
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

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required"; }

free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
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

# ------------------------------------------------------------------ load runs

declare -A BEST_RPS BEST_CONNS BEST_LINE WRONG_NS RSS

# run_load TARGET URL BODYFILE
run_load() {
    local target=$1 url=$2 body=$3 c out line rps
    for c in $CONNECTIONS; do
        out="$TMP/wrk-$target-c$c.txt"
        log "$target: wrk -t$WRK_THREADS -c$c -d${DURATION}s (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
        BENCH_BODY_FILE="$body" timeout --kill-after=5 $((DURATION + 30)) \
            wrk -t"$WRK_THREADS" -c"$c" -d"${DURATION}s" --timeout 5s --latency -s "$LUA" "$url" >"$out" 2>&1 ||
            { cat "$out" >&2; die "wrk failed against $target"; }
        line="$(grep '^BENCH_RESULT' "$out" || true)"
        [[ -n "$line" ]] || { cat "$out" >&2; die "wrk printed no BENCH_RESULT for $target"; }
        rps="$(field "$line" rps)"
        printf '  %-7s c=%-4s %10s req/s  p50 %-9s p99 %-9s non-2xx %s  socket-errors %s\n' \
            "$target" "$c" "$rps" "$(ms "$(field "$line" p50_us)")" "$(ms "$(field "$line" p99_us)")" \
            "$(field "$line" non2xx)" "$(sock_errs "$line")" >&2
        if [[ -z "${BEST_RPS[$target]:-}" ]] || awk -v a="$rps" -v b="${BEST_RPS[$target]}" 'BEGIN{exit !(a>b)}'; then
            BEST_RPS[$target]=$rps
            BEST_CONNS[$target]=$c
            BEST_LINE[$target]=$line
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

# ------------------------------------------------------------------- podiam

bench_podiam() {
    local data="$TMP/podiam-data" addr i url issuer_hp
    mkdir -p "$data"
    start_bg podiam "$TMP/podiam.log" "$PODIAM_BIN" serve --listen 127.0.0.1:0 --data-dir "$data"
    local pid=$BG_PID
    addr=""
    for i in $(seq 1 300); do
        addr="$(sed -n 's#^podiam: listening on http://##p' "$TMP/podiam.log" | head -n1)"
        [[ -n "$addr" ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$TMP/podiam.log" >&2; die "podiam exited during start-up"; }
        sleep 0.1
    done
    [[ -n "$addr" ]] || { cat "$TMP/podiam.log" >&2; die "podiam did not report its address"; }
    url="http://$addr"
    issuer_hp="$addr/clusters/demo"
    printf '%s' "$issuer_hp" >"$TMP/issuer_hp"
    log "podiam listening on $url"

    local -a penv=(env PODIAM_ENDPOINT="$url" PODIAM_DATA_DIR="$data")
    local -a awsp=(env AWS_SHARED_CREDENTIALS_FILE="$data/admin-credentials" AWS_CONFIG_FILE=/dev/null
                   aws --endpoint-url "$url" --output text)
    "${penv[@]}" "$PODIAM_BIN" cluster create demo >"$TMP/cluster.json"
    "${penv[@]}" "$PODIAM_BIN" token --cluster demo --namespace "$SA_NS" \
        --service-account "$SA_NAME" --expiration 86400 >"$TMP/token.jwt"
    "${penv[@]}" "$PODIAM_BIN" token --cluster demo --namespace other-ns \
        --service-account "$SA_NAME" --expiration 86400 >"$TMP/token-wrong-ns.jwt"
    "${awsp[@]}" iam create-open-id-connect-provider --url "http://$issuer_hp" \
        --client-id-list sts.amazonaws.com >/dev/null
    write_trust "$issuer_hp" "$TMP/trust.json"
    "${awsp[@]}" iam create-role --role-name "$ROLE_NAME" \
        --assume-role-policy-document "file://$TMP/trust.json" >/dev/null

    write_body "$(cat "$TMP/token.jwt")" "$TMP/body.txt"
    write_body "$(cat "$TMP/token-wrong-ns.jwt")" "$TMP/body-wrong-ns.txt"

    local code
    code="$(post "$TMP/body.txt" "$url/" "$TMP/podiam-ok.xml")"
    [[ "$code" == 200 ]] && grep -q '<AssumeRoleWithWebIdentityResponse' "$TMP/podiam-ok.xml" &&
        grep -q '<SubjectFromWebIdentityToken>system:serviceaccount:default:sa-access-s3<' "$TMP/podiam-ok.xml" ||
        { cat "$TMP/podiam-ok.xml" >&2; die "podiam: valid token got HTTP $code, expected 200 + AssumeRoleWithWebIdentityResponse"; }
    log "podiam: valid token -> 200 AssumeRoleWithWebIdentityResponse"
    code="$(post "$TMP/body-wrong-ns.txt" "$url/" "$TMP/podiam-wrong.xml")"
    [[ "$code" == 403 ]] || { cat "$TMP/podiam-wrong.xml" >&2; die "podiam: wrong-namespace token got HTTP $code, expected 403"; }
    WRONG_NS[podiam]="$code $(grep -o '<Code>[^<]*</Code>' "$TMP/podiam-wrong.xml" | sed 's/<[^>]*>//g')"
    log "podiam: wrong-namespace token -> ${WRONG_NS[podiam]}"

    run_load podiam "$url/" "$TMP/body.txt"

    code="$(post "$TMP/body.txt" "$url/" "$TMP/podiam-after.xml")"
    [[ "$code" == 200 ]] || die "podiam: valid token got HTTP $code after the load"
    RSS[podiam]="$(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
    stop_bg "$pid"
}

# --------------------------------------------------------------------- moto

bench_moto() {
    need "$MOTO_SERVER"
    local port url i
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    start_bg moto "$TMP/moto.log" "$MOTO_SERVER" -H 127.0.0.1 -p "$port"
    local pid=$BG_PID
    for i in $(seq 1 300); do
        curl -s --max-time 2 -o /dev/null "$url/moto-api/" && break
        kill -0 "$pid" 2>/dev/null || { cat "$TMP/moto.log" >&2; die "moto_server exited during start-up"; }
        sleep 0.1
    done
    curl -s --max-time 2 -o /dev/null "$url/moto-api/" || die "moto_server did not come up on $url"
    log "moto listening on $url"

    # The token and trust policy are podiam's; moto checks neither, but gets
    # the same provider and role so that the request is the same work.
    [[ -f "$TMP/body.txt" ]] || podiamless_token
    local -a awsm=(env AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_CONFIG_FILE=/dev/null
                   AWS_SHARED_CREDENTIALS_FILE=/dev/null aws --endpoint-url "$url" --output text)
    local issuer_hp
    issuer_hp="$(cat "$TMP/issuer_hp")"
    "${awsm[@]}" iam create-open-id-connect-provider --url "http://$issuer_hp" \
        --client-id-list sts.amazonaws.com --thumbprint-list 0000000000000000000000000000000000000000 >/dev/null
    write_trust "$issuer_hp" "$TMP/trust-moto.json"
    "${awsm[@]}" iam create-role --role-name "$ROLE_NAME" \
        --assume-role-policy-document "file://$TMP/trust-moto.json" >/dev/null

    local code
    code="$(post "$TMP/body.txt" "$url/" "$TMP/moto-ok.xml")"
    [[ "$code" == 200 ]] && grep -q '<AssumeRoleWithWebIdentityResponse' "$TMP/moto-ok.xml" ||
        { cat "$TMP/moto-ok.xml" >&2; die "moto: valid token got HTTP $code"; }
    log "moto: valid token -> 200 AssumeRoleWithWebIdentityResponse"
    code="$(post "$TMP/body-wrong-ns.txt" "$url/" "$TMP/moto-wrong.xml")"
    if [[ "$code" == 200 ]]; then
        WRONG_NS[moto]="200 (accepted: moto validates nothing)"
    else
        WRONG_NS[moto]="$code $(grep -o '<Code>[^<]*</Code>' "$TMP/moto-wrong.xml" | sed 's/<[^>]*>//g')"
    fi
    log "moto: wrong-namespace token -> ${WRONG_NS[moto]}"

    run_load moto "$url/" "$TMP/body.txt"
    RSS[moto]="$(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
    stop_bg "$pid"
}

# moto alone (BENCH_TARGETS=moto) still needs a realistic JWT: mint one with
# a short-lived podiam, without load.
podiamless_token() {
    log "minting a token with a temporary podiam for the moto-only run"
    local saved="$CONNECTIONS"
    CONNECTIONS=""
    bench_podiam
    CONNECTIONS="$saved"
    unset 'WRONG_NS[podiam]' 'RSS[podiam]'
}

# --------------------------------------------------------------------- main


need curl
need python3
need aws
ensure_wrk
locate_podiam
log "podiam binary: $PODIAM_BIN"
log "wrk: $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), $WRK_THREADS thread(s), ${DURATION}s per run, connections: $CONNECTIONS"
log "machine: $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

for t in $TARGETS; do
    case "$t" in
        podiam) bench_podiam ;;
        moto) bench_moto ;;
        *) die "unknown target $t (podiam|moto)" ;;
    esac
done

# ------------------------------------------------------------------- report

echo
echo "STS AssumeRoleWithWebIdentity over loopback, wrk ${WRK_THREADS} thread(s), ${DURATION}s per run, best of connections {$CONNECTIONS}"
echo "($(nproc) cores shared by the server and wrk; loadavg at end $(cut -d' ' -f1-3 /proc/loadavg))"
echo
printf '%-8s %6s %12s %10s %10s %10s %9s %10s %8s  %s\n' \
    target conns "req/s" p50 p90 p99 non-2xx sock-errs "max RSS" "wrong-ns token"
for t in $TARGETS; do
    [[ -n "${BEST_LINE[$t]:-}" ]] || continue
    l="${BEST_LINE[$t]}"
    printf '%-8s %6s %12s %10s %10s %10s %9s %10s %8s  %s\n' \
        "$t" "${BEST_CONNS[$t]}" "$(field "$l" rps)" "$(ms "$(field "$l" p50_us)")" \
        "$(ms "$(field "$l" p90_us)")" "$(ms "$(field "$l" p99_us)")" \
        "$(field "$l" non2xx)" "$(sock_errs "$l")" "${RSS[$t]:-?}" "${WRONG_NS[$t]:-}"
done
if [[ -n "${BEST_RPS[podiam]:-}" && -n "${BEST_RPS[moto]:-}" ]]; then
    echo
    awk -v p="${BEST_RPS[podiam]}" -v m="${BEST_RPS[moto]}" \
        'BEGIN{ printf "ratio podiam/moto: %.1fx\n", (m > 0 ? p/m : 0) }'
fi
if [[ -n "${WRONG_NS[podiam]:-}" && "${WRONG_NS[moto]:-}" == 200* ]]; then
    echo "note: a token for namespace other-ns is refused by podiam (${WRONG_NS[podiam]}) but accepted by moto (200)."
fi

if [[ -n "${BENCH_RESULTS_DIR:-}" ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    out="$BENCH_RESULTS_DIR/sts-assume.tsv"
    printf 'target\tconnections\trps\tp50_us\tp90_us\tp99_us\tnon2xx\tsocket_errors\n' >"$out"
    for t in $TARGETS; do
        [[ -n "${BEST_LINE[$t]:-}" ]] || continue
        l="${BEST_LINE[$t]}"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${BEST_CONNS[$t]}" "$(field "$l" rps)" \
            "$(field "$l" p50_us)" "$(field "$l" p90_us)" "$(field "$l" p99_us)" \
            "$(field "$l" non2xx)" "$(sock_errs "$l")" >>"$out"
    done
    log "wrote $out"
fi
