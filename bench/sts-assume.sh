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
# Then the distinct-token scenario (a cluster-wide rollout): an external
# issuer's key (crates/oidc/examples/mint_tokens.rs) mints more distinct
# tokens than podiam remembers verified ones, and wrk sends each once in turn,
# so every request pays one RS256 verification. The report sets its server
# CPU per request beside the crypto floor measured in the same run
# (`openssl speed rsa2048`: one RSA-2048 verification, per core).
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
#   BENCH_CALIBRATE=0   skip the extra GET /healthz run against podiam (the
#                       ceiling of server + wrk + loopback with a no-op handler)
#   BENCH_WAIT_QUIET=N  before each load run, wait up to N seconds until the
#                       rest of the machine uses < BENCH_QUIET_CORES (0.3)
#                       cores (default 0: don't wait; shared machines)
#   BENCH_PERF=1|dwarf  profile podiam with `perf record` during one extra
#                       (uncounted) run and print the top symbols; `dwarf`
#                       records call stacks and prints inclusive costs of the
#                       hot path (bench/perf-breakdown.py)
#   BENCH_DISTINCT=N    distinct tokens per wrk thread for the distinct-token
#                       scenario (default 70000, above the 65,536 verified
#                       tokens podiam remembers; 0 skips the scenario)
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
CALIBRATE="${BENCH_CALIBRATE:-1}"
WAIT_QUIET="${BENCH_WAIT_QUIET:-0}"
PERF="${BENCH_PERF:-0}"
DISTINCT="${BENCH_DISTINCT:-70000}"
DISTINCT_LUA="$HERE/wrk/assume-distinct.lua"
QUIET_CORES="${BENCH_QUIET_CORES:-0.3}"
CALIB_LINE=""
MOTO_SERVER="${MOTO_SERVER:-moto_server}"
ACCOUNT=000000000000
ROLE_NAME=pod-access-s3-role
ROLE_ARN="arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}"
SA_NS=default
SA_NAME=sa-access-s3

log() { printf '[sts-assume] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init sts

# ------------------------------------------------------------------ load runs

declare -A BEST_RPS BEST_CONNS BEST_LINE WRONG_NS RSS
CLK_TCK="$(getconf CLK_TCK)"

# run_load TARGET URL BODYFILE PGID [SCRIPT]: every connection count, keeps
# the best.
run_load() {
    local target=$1 url=$2 body=$3 pg=$4 script=${5:-$LUA} c rps
    for c in $CONNECTIONS; do
        log "$target: wrk -t$WRK_THREADS -c$c -d${DURATION}s (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
        quiet_wait
        BENCH_WRK_THREADS="$WRK_THREADS" wrk_run "$target" "$url" "$script" "$c" "$pg" "$body"
        print_run "$target" "$c" "$RUN_LINE"
        rps="$(field "$RUN_LINE" rps)"
        if [[ -z "${BEST_RPS[$target]:-}" ]] || awk -v a="$rps" -v b="${BEST_RPS[$target]}" 'BEGIN{exit !(a>b)}'; then
            BEST_RPS[$target]=$rps
            BEST_CONNS[$target]=$c
            BEST_LINE[$target]=$RUN_LINE
        fi
    done
}

# ------------------------------------------------------------------- podiam

bench_podiam() {
    local data="$TMP/podiam-data" addr url issuer_hp
    mkdir -p "$data"
    start_bg podiam "$TMP/podiam.log" "$PODIAM_BIN" serve --listen 127.0.0.1:0 --data-dir "$data"
    local pid=$BG_PID
    addr=""
    for _ in $(seq 1 300); do
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
        --service-account "$SA_NAME" --token-expiration 86400 >"$TMP/token.jwt"
    "${penv[@]}" "$PODIAM_BIN" token --cluster demo --namespace other-ns \
        --service-account "$SA_NAME" --token-expiration 86400 >"$TMP/token-wrong-ns.jwt"
    "${awsp[@]}" iam create-open-id-connect-provider --url "http://$issuer_hp" \
        --client-id-list sts.amazonaws.com >/dev/null
    write_trust "$issuer_hp" "$TMP/trust.json"
    "${awsp[@]}" iam create-role --role-name "$ROLE_NAME" \
        --assume-role-policy-document "file://$TMP/trust.json" >/dev/null

    write_body "$(cat "$TMP/token.jwt")" "$TMP/body.txt"
    write_body "$(cat "$TMP/token-wrong-ns.jwt")" "$TMP/body-wrong-ns.txt"

    local code
    code="$(post "$TMP/body.txt" "$url/" "$TMP/podiam-ok.xml")"
    if [[ "$code" != 200 ]] || ! grep -q '<AssumeRoleWithWebIdentityResponse' "$TMP/podiam-ok.xml" ||
        ! grep -q "<SubjectFromWebIdentityToken>system:serviceaccount:$SA_NS:$SA_NAME<" "$TMP/podiam-ok.xml"; then
        cat "$TMP/podiam-ok.xml" >&2
        die "podiam: valid token got HTTP $code, expected 200 + AssumeRoleWithWebIdentityResponse"
    fi
    log "podiam: valid token -> 200 AssumeRoleWithWebIdentityResponse"
    code="$(post "$TMP/body-wrong-ns.txt" "$url/" "$TMP/podiam-wrong.xml")"
    [[ "$code" == 403 ]] || { cat "$TMP/podiam-wrong.xml" >&2; die "podiam: wrong-namespace token got HTTP $code, expected 403"; }
    WRONG_NS[podiam]="$code $(grep -o '<Code>[^<]*</Code>' "$TMP/podiam-wrong.xml" | sed 's/<[^>]*>//g')"
    log "podiam: wrong-namespace token -> ${WRONG_NS[podiam]}"

    run_load podiam "$url/" "$TMP/body.txt" "$pid"
    if [[ -n "$CONNECTIONS" && "$CALIBRATE" == 1 ]]; then
        # The harness ceiling: same server, wrk and loopback, a handler that
        # does nothing. STS far below this is the handler's cost.
        local c=${BEST_CONNS[podiam]}
        log "podiam: calibration, GET /healthz with c=$c"
        quiet_wait
        wrk_run podiam-healthz "$url/healthz" "$HERE/wrk/get.lua" "$c" "$pid"
        print_run "podiam /healthz" "$c" "$RUN_LINE"
        CALIB_LINE=$RUN_LINE
        CALIB_CONNS=$c
    fi

    if [[ -n "$CONNECTIONS" && "$DISTINCT" -gt 0 ]]; then
        bench_distinct "$url" "$pid"
    fi

    if [[ -n "$CONNECTIONS" && "$PERF" != 0 ]]; then
        perf_podiam "$url" "$pid"
    fi

    code="$(post "$TMP/body.txt" "$url/" "$TMP/podiam-after.xml")"
    [[ "$code" == 200 ]] || die "podiam: valid token got HTTP $code after the load"
    RSS[podiam]="$(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
    stop_bg "$pid"
}

# The distinct-token scenario on the running podiam: an external issuer
# (its JWKS registered with the cluster, no fetch), its OIDC provider, a role
# trusting it, and one request body per minted token.
bench_distinct() {
    local url=$1 pid=$2 n=$((DISTINCT * WRK_THREADS)) mint issuer="https://issuer.bench.example/distinct"
    local role=distinct-role arn="arn:aws:iam::${ACCOUNT}:role/distinct-role"
    mint="$(locate_example mint_tokens podiam-oidc)"
    log "podiam distinct: minting $n RS256 tokens for $issuer"
    "$mint" "$issuer" "$n" "$TMP/distinct-jwks.json" "$SA_NS" "$SA_NAME" >"$TMP/distinct.tokens"
    [[ "$(sort -u "$TMP/distinct.tokens" | wc -l)" == "$n" ]] || die "the minted tokens are not distinct"
    env PODIAM_ENDPOINT="$url" PODIAM_DATA_DIR="$TMP/podiam-data" "$PODIAM_BIN" cluster register distinct \
        --issuer "$issuer" --jwks-file "$TMP/distinct-jwks.json" >/dev/null
    local -a awsp=(env AWS_SHARED_CREDENTIALS_FILE="$TMP/podiam-data/admin-credentials" AWS_CONFIG_FILE=/dev/null
                   aws --endpoint-url "$url" --output text)
    "${awsp[@]}" iam create-open-id-connect-provider --url "$issuer" --client-id-list sts.amazonaws.com >/dev/null
    write_trust "${issuer#https://}" "$TMP/trust-distinct.json"
    "${awsp[@]}" iam create-role --role-name "$role" \
        --assume-role-policy-document "file://$TMP/trust-distinct.json" >/dev/null
    # Tokens are base64url and dots: only the role ARN needs encoding.
    awk -v pre="Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=$(urlencode "$arn")&RoleSessionName=bench&WebIdentityToken=" \
        '{ print pre $0 }' "$TMP/distinct.tokens" >"$TMP/distinct.bodies"
    tail -n1 "$TMP/distinct.bodies" | tr -d '\n' >"$TMP/distinct-last.txt"
    local code
    code="$(post "$TMP/distinct-last.txt" "$url/" "$TMP/distinct-ok.xml")"
    [[ "$code" == 200 ]] || { cat "$TMP/distinct-ok.xml" >&2; die "podiam distinct: a minted token got HTTP $code, expected 200"; }
    # A token comes round again after DISTINCT requests of its thread; podiam
    # forgets all it remembers once 65,536 verified tokens are held, so with
    # more than that every request is still a full verification.
    ((DISTINCT > 65536)) ||
        log "WARNING: BENCH_DISTINCT=$DISTINCT <= 65,536: tokens repeat within podiam's memory of verified tokens"
    run_load podiam-distinct "$url/" "$TMP/distinct.bodies" "$pid" "$DISTINCT_LUA"
}

# The crypto floor: one RSA-2048 verification per core (`openssl speed`).
crypto_floor() {
    openssl speed -seconds 3 rsa2048 2>/dev/null | awk '
        /verify\/s/ { for (i = 1; i <= NF; i++) if ($i == "verify/s") col = i }
        /^rsa 2048 bits/ && col { print $(col + 3) }'
}

# One extra load run (not counted) with `perf record` attached to podiam;
# prints the top of the profile and keeps it in BENCH_RESULTS_DIR if set.
perf_podiam() {
    local url=$1 pid=$2 c=${BEST_CONNS[podiam]} perf_pid top="$TMP/perf-top.txt"
    command -v perf >/dev/null 2>&1 || { log "BENCH_PERF set but perf is not installed; skipping the profile"; return 0; }
    # shellcheck disable=SC2054 # commas are inside perf arguments
    local -a rec=(-F 999) rep=(--no-children --sort dso,symbol -g none --percent-limit 0.7)
    if [[ "$PERF" == dwarf ]]; then
        # Inclusive costs need stacks; release builds have no frame pointers.
        # shellcheck disable=SC2054
        rec=(-F 199 --call-graph dwarf,16384)
        rep=(--children --sort symbol -g none --percent-limit 2)
    fi
    log "podiam: profiling one more c=$c run with perf record ${rec[*]} (not counted)"
    quiet_wait
    perf record "${rec[@]}" -p "$pid" -o "$TMP/perf.data" -- sleep "$DURATION" >"$TMP/perf-record.log" 2>&1 &
    perf_pid=$!
    PIDS+=("$perf_pid")
    sleep 0.2
    wrk_run podiam-perf "$url/" "$LUA" "$c" "$pid" "$TMP/body.txt"
    print_run "podiam (perf)" "$c" "$RUN_LINE"
    wait "$perf_pid" || true
    local keep=() p
    for p in "${PIDS[@]:-}"; do [[ "$p" == "$perf_pid" || -z "$p" ]] || keep+=("$p"); done
    PIDS=("${keep[@]:-}")
    perf report -i "$TMP/perf.data" "${rep[@]}" --stdio 2>/dev/null |
        grep '%' | grep -v '^#' | cut -c1-160 | sed 's/ *$//' | head -n 40 >"$top" || true
    if [[ "$PERF" == dwarf ]]; then
        # The inclusive symbol list is mostly hyper/tokio frames; the
        # breakdown by hot-path function says more.
        perf script -i "$TMP/perf.data" -F comm,tid,ip,sym 2>/dev/null |
            python3 "$HERE/perf-breakdown.py" - >"$top" || true
    fi
    {
        echo "perf profile of podiam under load (${PERF}; % of podiam's samples):"
        cat "$top"
    } >&2
    if [[ -n "${BENCH_RESULTS_DIR:-}" ]]; then
        mkdir -p "$BENCH_RESULTS_DIR"
        cp "$top" "$BENCH_RESULTS_DIR/sts-assume-perf-top.txt"
    fi
}

# --------------------------------------------------------------------- moto

bench_moto() {
    need "$MOTO_SERVER"
    local port url
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    start_bg moto "$TMP/moto.log" "$MOTO_SERVER" -H 127.0.0.1 -p "$port"
    local pid=$BG_PID
    for _ in $(seq 1 300); do
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
    if [[ "$code" != 200 ]] || ! grep -q '<AssumeRoleWithWebIdentityResponse' "$TMP/moto-ok.xml"; then
        cat "$TMP/moto-ok.xml" >&2
        die "moto: valid token got HTTP $code, expected 200 + AssumeRoleWithWebIdentityResponse"
    fi
    log "moto: valid token -> 200 AssumeRoleWithWebIdentityResponse"
    code="$(post "$TMP/body-wrong-ns.txt" "$url/" "$TMP/moto-wrong.xml")"
    if [[ "$code" == 200 ]]; then
        WRONG_NS[moto]="200 (accepted: moto validates nothing)"
    else
        WRONG_NS[moto]="$code $(grep -o '<Code>[^<]*</Code>' "$TMP/moto-wrong.xml" | sed 's/<[^>]*>//g')"
    fi
    log "moto: wrong-namespace token -> ${WRONG_NS[moto]}"

    run_load moto "$url/" "$TMP/body.txt" "$pid"
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
FLOOR=""
if [[ -n "${BEST_LINE[podiam-distinct]:-}" ]] && command -v openssl >/dev/null 2>&1; then
    quiet_wait
    FLOOR="$(crypto_floor)"
fi

# ------------------------------------------------------------------- report

row() { # TARGET CONNS LINE EXTRA
    printf '%-16s %5s %10s %9s %9s %9s %8s %9s %7s %6s %6s %9s  %s\n' \
        "$1" "$2" "$(field "$3" rps)" "$(ms "$(field "$3" p50_us)")" "$(ms "$(field "$3" p90_us)")" \
        "$(ms "$(field "$3" p99_us)")" "$(field "$3" non2xx)" "$(sock_errs "$3")" \
        "$(field "$3" srv_cores)" "$(field "$3" wrk_cores)" "$(field "$3" other_cores)" \
        "$(field "$3" srv_us_per_req)" "$4"
}

echo
echo "STS AssumeRoleWithWebIdentity over loopback: wrk -t${WRK_THREADS}, ${DURATION}s per run, best of connections {$CONNECTIONS}"
echo "$(nproc) cores shared by the server, wrk and anything else running (loadavg at end $(cut -d' ' -f1-3 /proc/loadavg))"
echo "cpu columns: cores used during the run by the server / wrk / everything else on the machine"
echo
printf '%-16s %5s %10s %9s %9s %9s %8s %9s %7s %6s %6s %9s  %s\n' \
    target conns "req/s" p50 p90 p99 non-2xx sock-errs "cpu:srv" wrk other "srv us/req" "max RSS"
for t in $TARGETS; do
    [[ -n "${BEST_LINE[$t]:-}" ]] || continue
    row "$t" "${BEST_CONNS[$t]}" "${BEST_LINE[$t]}" "${RSS[$t]:-?}"
    [[ "$t" == podiam && -n "${BEST_LINE[podiam-distinct]:-}" ]] &&
        row "podiam distinct" "${BEST_CONNS[podiam-distinct]}" "${BEST_LINE[podiam-distinct]}" "every token new: one RS256 verification each"
done
if [[ -n "$CALIB_LINE" ]]; then
    row "(podiam /healthz)" "$CALIB_CONNS" "$CALIB_LINE" "ceiling: no-op handler, same server+wrk+loopback"
fi
echo
if [[ -n "$FLOOR" ]]; then
    awk -v v="$FLOOR" -v r="${BEST_RPS[podiam-distinct]}" -v u="$(field "${BEST_LINE[podiam-distinct]}" srv_us_per_req)" -v cores="$(nproc)" 'BEGIN {
        printf "crypto floor (openssl speed rsa2048, this run): %.0f verifications/s per core = %.1f us each; %d cores: %.0f/s\n", v, 1e6 / v, cores, v * cores
        printf "distinct-token STS: %.0f req/s = %.1f%% of %d cores of RSA-2048 verification (target >= 40%%); server %.1f us/req = %.1fx one verification (target <= 40 us)\n", r, 100 * r / (v * cores), cores, u, u * v / 1e6
    }'
fi
if [[ -n "${BEST_RPS[podiam]:-}" && -n "${BEST_RPS[moto]:-}" ]]; then
    awk -v p="${BEST_RPS[podiam]}" -v m="${BEST_RPS[moto]}" \
        'BEGIN{ printf "ratio podiam/moto: %.1fx\n", (m > 0 ? p/m : 0) }'
fi
for t in $TARGETS; do
    [[ -n "${WRONG_NS[$t]:-}" ]] && echo "wrong-namespace token (system:serviceaccount:other-ns:$SA_NAME) -> $t: ${WRONG_NS[$t]}"
done
if [[ -n "${WRONG_NS[podiam]:-}" && "${WRONG_NS[moto]:-}" == 200* ]]; then
    echo "note: podiam refuses the token the trust policy does not allow; moto returns credentials for it."
fi

busiest=0
for t in $TARGETS; do
    [[ -n "${BEST_LINE[$t]:-}" ]] || continue
    busiest="$(awk -v a="$busiest" -v b="$(field "${BEST_LINE[$t]}" other_cores)" 'BEGIN{ print (b > a ? b : a) }')"
done
if awk -v b="$busiest" 'BEGIN{ exit !(b > 0.15) }'; then
    echo "WARNING: other processes used up to $busiest cores during these runs, so req/s (and the ratio) are"
    echo "         depressed and not comparable; compare 'srv us/req', or rerun with BENCH_WAIT_QUIET=180."
fi

if [[ -n "${BENCH_RESULTS_DIR:-}" ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    out="$BENCH_RESULTS_DIR/sts-assume.tsv"
    printf 'bench\ttarget\tconnections\trps\tp50_us\tp90_us\tp99_us\tnon2xx\tsocket_errors\tsrv_cores\twrk_cores\tother_cores\tsrv_us_per_req\n' >"$out"
    tsv() { # TARGET CONNS LINE
        printf 'sts-assume\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(field "$3" rps)" \
            "$(field "$3" p50_us)" "$(field "$3" p90_us)" "$(field "$3" p99_us)" \
            "$(field "$3" non2xx)" "$(sock_errs "$3")" "$(field "$3" srv_cores)" \
            "$(field "$3" wrk_cores)" "$(field "$3" other_cores)" "$(field "$3" srv_us_per_req)" >>"$out"
    }
    for t in $TARGETS podiam-distinct; do
        [[ -n "${BEST_LINE[$t]:-}" ]] && tsv "$t" "${BEST_CONNS[$t]}" "${BEST_LINE[$t]}"
    done
    [[ -n "$CALIB_LINE" ]] && tsv podiam-healthz "$CALIB_CONNS" "$CALIB_LINE"
    log "wrote $out"
fi
exit 0
