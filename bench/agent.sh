#!/usr/bin/env bash
# The node agent's GET /v1/credentials: a cached hit, and a miss (a full
# eks-auth AssumeRoleForPodIdentity round trip), with wrk.
#
# Starts podiam (release build) on a free loopback port with a throw-away data
# dir; creates cluster `demo`, a role with the Pod Identity trust policy and
# an association for bench/app; mints one pod token for the hit runs and
# BENCH_MISS_TOKENS tokens for as many distinct pods for the miss runs. Then,
# each run against a freshly started `podiam agent` (empty cache):
#
#   hit       one token: the first request fills the cache, every other one
#             is served from it (wrk/agent-hit.lua)
#   miss      the tokens of BENCH_MISS_TOKENS pods, round robin; there are
#             more of them than the agent's LRU cache holds (2000), so the
#             token asked for has always been evicted and every request is a
#             miss: agent -> SigV4-signed eks-auth call -> podiam (token
#             signature, association, trust policy, session minting) -> back
#             (wrk/agent-miss.lua). The agent's /metrics cache counters are
#             read around the run to prove it (hits must be ~0).
#   eks-auth  the same eks-auth request sent straight to podiam (pre-signed
#             once, replayed; wrk/eks-auth.lua): the server's share of a miss
#
# The agent runs with --rate-limit 1000000: its default per-agent limit
# (1000 req/s, burst 500) would answer most of a hit run with 429.
#
# Everything is on 127.0.0.1; every load run is bounded by BENCH_DURATION and
# every process this script starts is stopped on exit.
#
# Environment (all optional):
#   PODIAM_BIN          podiam binary (default target/release/podiam, built
#                       with `cargo build --release -p podiam` if missing)
#   PODIAM_BUILD=1      run `cargo build --release -p podiam` first anyway
#   BENCH_DURATION      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS   connection counts to try (default "16 64"; best kept)
#   BENCH_WRK_THREADS   wrk threads for the hit and eks-auth runs (default 1;
#                       the miss run always uses 1, see wrk/agent-miss.lua)
#   BENCH_CASES         "hit miss eks-auth" (default) or a subset
#   BENCH_MISS_TOKENS   distinct pod tokens for the miss run (default 2500;
#                       must exceed the agent's cache capacity of 2000)
#   BENCH_CALIBRATE=0   skip the GET /healthz run against the agent
#   BENCH_WAIT_QUIET=N  before each run, wait up to N s until the rest of the
#                       machine uses < BENCH_QUIET_CORES (0.3) cores
#   BENCH_RESULTS_DIR   if set, agent.tsv is written there
#   BENCH_KEEP_TMP=1    keep the temp dir (logs, tokens, wrk output)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-16 64}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
CASES="${BENCH_CASES:-hit miss eks-auth}"
MISS_TOKENS="${BENCH_MISS_TOKENS:-2500}"
CALIBRATE="${BENCH_CALIBRATE:-1}"
WAIT_QUIET="${BENCH_WAIT_QUIET:-0}"
QUIET_CORES="${BENCH_QUIET_CORES:-0.3}"
CACHE_CAPACITY=2000 # podiam_agent::cache::CacheConfig::default().capacity
ACCOUNT=000000000000
CLUSTER=demo
ROLE_NAME=bench-pia
NS=bench
SA=app

log() { printf '[agent] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init agent

# ------------------------------------------------------------------ accounting

CLK_TCK="$(getconf CLK_TCK)"

# metric NAME_WITH_LABELS -> value from the agent's /metrics (0 if absent)
metric() {
    curl -s --max-time 5 "$AGENT_URL/metrics" |
        awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# wrk_run NAME URL SCRIPT CONNS THREADS -> RUN_LINE: wrk's BENCH_RESULT plus
# agent_cores= srv_cores= wrk_cores= other_cores= hits= misses= up_mean_us=
wrk_run() {
    local name=$1 url=$2 script=$3 c=$4 t=$5 out line
    out="$TMP/wrk-$name-c$c.txt"
    local a0 s0 m0 w0 a1 s1 m1 w1 h0 h1 x0 x1 us0 us1 n0 n1
    quiet_wait
    h0="$(metric 'podiam_agent_cache_total{state="hit"}')"; x0="$(metric 'podiam_agent_cache_total{state="miss"}')"
    us0="$(metric podiam_agent_upstream_seconds_sum)"; n0="$(metric podiam_agent_upstream_seconds_count)"
    times >"$TMP/times0"
    a0="$(group_ticks "$AGENT_PID")"; s0="$(group_ticks "$SERVER_PID")"; m0="$(machine_ticks)"
    timeout --kill-after=5 $((DURATION + 30)) \
        wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 5s --latency -s "$script" "$url" >"$out" 2>&1 &
    WRK_PID=$!
    if ! wait "$WRK_PID"; then
        WRK_PID=""
        cat "$out" >&2
        die "wrk failed ($name)"
    fi
    WRK_PID=""
    a1="$(group_ticks "$AGENT_PID")"; s1="$(group_ticks "$SERVER_PID")"; m1="$(machine_ticks)"
    times >"$TMP/times1"
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited during the $name run (BENCH_KEEP_TMP=1 keeps its log)"
    kill -0 "$SERVER_PID" 2>/dev/null || die "podiam exited during the $name run (BENCH_KEEP_TMP=1 keeps its log)"
    h1="$(metric 'podiam_agent_cache_total{state="hit"}')"; x1="$(metric 'podiam_agent_cache_total{state="miss"}')"
    us1="$(metric podiam_agent_upstream_seconds_sum)"; n1="$(metric podiam_agent_upstream_seconds_count)"
    w0="$(children_secs "$TMP/times0")"; w1="$(children_secs "$TMP/times1")"
    line="$(grep '^BENCH_RESULT' "$out" || true)"
    [[ -n "$line" ]] || { cat "$out" >&2; die "wrk printed no BENCH_RESULT ($name)"; }
    RUN_LINE="$line $(awk -v a="$((a1 - a0))" -v s="$((s1 - s0))" -v m="$((m1 - m0))" -v w0="$w0" -v w1="$w1" \
        -v hz="$CLK_TCK" -v d="$(field "$line" duration_us)" \
        -v h="$(awk -v a="$h0" -v b="$h1" 'BEGIN{print b - a}')" -v x="$(awk -v a="$x0" -v b="$x1" 'BEGIN{print b - a}')" \
        -v us="$(awk -v a="$us0" -v b="$us1" 'BEGIN{print b - a}')" -v un="$(awk -v a="$n0" -v b="$n1" 'BEGIN{print b - a}')" 'BEGIN {
            secs = d / 1e6; ag = a / hz; srv = s / hz; wrk = w1 - w0; tot = m / hz
            oth = tot - ag - srv - wrk; if (oth < 0) oth = 0
            printf "agent_cores=%.2f srv_cores=%.2f wrk_cores=%.2f other_cores=%.2f hits=%d misses=%d up_mean_us=%.0f",
                ag / secs, srv / secs, wrk / secs, oth / secs, h, x, (un > 0 ? us * 1e6 / un : 0) }')"
}

print_run() { # LABEL CONNS LINE
    printf '  %-10s c=%-4s %9s req/s  p50 %-8s p99 %-8s non-2xx %s  sock-errs %s  cpu: agent %s podiam %s wrk %s other %s  cache hit/miss %s/%s\n' \
        "$1" "$2" "$(field "$3" rps)" "$(ms "$(field "$3" p50_us)")" "$(ms "$(field "$3" p99_us)")" \
        "$(field "$3" non2xx)" "$(sock_errs "$3")" "$(field "$3" agent_cores)" "$(field "$3" srv_cores)" \
        "$(field "$3" wrk_cores)" "$(field "$3" other_cores)" "$(field "$3" hits)" "$(field "$3" misses)" >&2
}

declare -A BEST_RPS BEST_CONNS BEST_LINE

keep_best() { # CASE CONNS
    local rps
    rps="$(field "$RUN_LINE" rps)"
    if [[ -z "${BEST_RPS[$1]:-}" ]] || awk -v a="$rps" -v b="${BEST_RPS[$1]}" 'BEGIN{exit !(a>b)}'; then
        BEST_RPS[$1]=$rps
        BEST_CONNS[$1]=$2
        BEST_LINE[$1]=$RUN_LINE
    fi
}

# ------------------------------------------------------------------ podiam + agent

start_server() {
    local data="$TMP/data"
    mkdir -p "$data"
    start_bg podiam "$TMP/podiam.log" "$PODIAM_BIN" serve --listen 127.0.0.1:0 --data-dir "$data"
    SERVER_PID=$BG_PID
    SERVER_URL="http://$(wait_line "$SERVER_PID" "$TMP/podiam.log" 's#^podiam: listening on http://##p')"
    DATA_DIR=$data
    log "podiam listening on $SERVER_URL"
}

# A fresh agent (empty cache) for each run.
start_agent() {
    [[ -z "${AGENT_PID:-}" ]] || stop_bg "$AGENT_PID"
    local logf="$TMP/agent-$((++AGENT_N)).log"
    start_bg agent "$logf" env PODIAM_ENDPOINT="$SERVER_URL" PODIAM_DATA_DIR="$DATA_DIR" \
        "$PODIAM_BIN" agent --listen 127.0.0.1:0 --cluster-name "$CLUSTER" --rate-limit 1000000
    AGENT_PID=$BG_PID
    AGENT_URL="$(wait_line "$AGENT_PID" "$logf" 's#^podiam agent: listening on ##p')"
}
AGENT_N=0

podiam_cli() { env PODIAM_ENDPOINT="$SERVER_URL" PODIAM_DATA_DIR="$DATA_DIR" "$PODIAM_BIN" "$@"; }
aws_admin() {
    env AWS_SHARED_CREDENTIALS_FILE="$DATA_DIR/admin-credentials" AWS_CONFIG_FILE=/dev/null \
        aws --endpoint-url "$SERVER_URL" --output text "$@"
}

setup() {
    podiam_cli cluster create "$CLUSTER" >/dev/null
    cat >"$TMP/trust.json" <<'EOF'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}
EOF
    aws_admin iam create-role --role-name "$ROLE_NAME" \
        --assume-role-policy-document "file://$TMP/trust.json" >/dev/null
    aws_admin eks create-pod-identity-association --cluster-name "$CLUSTER" --namespace "$NS" \
        --service-account "$SA" --role-arn "arn:aws:iam::${ACCOUNT}:role/$ROLE_NAME" >/dev/null
    podiam_cli token --cluster "$CLUSTER" --namespace "$NS" --service-account "$SA" \
        --audience pods.eks.amazonaws.com --pod app-hit --token-expiration 86400 -o "$TMP/token-hit.jwt"
}

mint_miss_tokens() {
    [[ " $CASES " == *" miss "* ]] || return 0
    ((MISS_TOKENS > CACHE_CAPACITY)) ||
        log "WARNING: BENCH_MISS_TOKENS=$MISS_TOKENS <= the agent's cache capacity ($CACHE_CAPACITY): later passes will hit"
    log "minting $MISS_TOKENS pod tokens (one podiam token call per pod)"
    local start=$SECONDS
    # Two at a time; each call is a process start plus one signed request.
    seq 1 "$MISS_TOKENS" | xargs -P 2 -I{} env PODIAM_ENDPOINT="$SERVER_URL" PODIAM_DATA_DIR="$DATA_DIR" \
        "$PODIAM_BIN" token --cluster "$CLUSTER" --namespace "$NS" --service-account "$SA" \
        --audience pods.eks.amazonaws.com --pod "app-{}" --token-expiration 86400 -o "$TMP/miss-{}.jwt"
    local i
    for i in $(seq 1 "$MISS_TOKENS"); do cat "$TMP/miss-$i.jwt"; echo; done >"$TMP/tokens-miss.txt"
    rm -f "$TMP"/miss-*.jwt
    [[ "$(sort -u "$TMP/tokens-miss.txt" | wc -l)" == "$MISS_TOKENS" ]] || die "the minted tokens are not distinct"
    log "minted in $((SECONDS - start))s"
}

# The eks-auth request the agent makes, SigV4-signed (service eks-auth) with
# the admin key the agent uses; body and headers for wrk/eks-auth.lua.
sign_eks_auth() {
    python3 - "$SERVER_URL" "$CLUSTER" "$DATA_DIR/admin-credentials" "$TMP/token-hit.jwt" \
        "$TMP/eks-auth-body.json" "$TMP/eks-auth-headers.txt" <<'PY'
import configparser, json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, cluster, cred_file, token_file, body_out, headers_out = sys.argv[1:]
cp = configparser.ConfigParser()
cp.read(cred_file)
sec = cp[cp.sections()[0]]
creds = Credentials(sec["aws_access_key_id"], sec["aws_secret_access_key"], sec.get("aws_session_token"))
body = json.dumps({"token": open(token_file).read().strip()})
req = AWSRequest(method="POST", url=f"{url}/clusters/{cluster}/assume-role-for-pod-identity",
                 data=body, headers={"Content-Type": "application/json"})
SigV4Auth(creds, "eks-auth", "us-east-1").add_auth(req)
open(body_out, "w").write(body)
with open(headers_out, "w") as f:
    for k, v in req.headers.items():
        f.write(f"{k}: {v}\n")
PY
}

# Checks before any load: a hit and a miss answer 200 with credentials, and
# the signed eks-auth request works when replayed.
check_ok() { # LABEL TOKENFILE
    local code
    code="$(curl -sS --max-time 10 -o "$TMP/check.json" -w '%{http_code}' \
        -H "Authorization: $(cat "$2")" "$AGENT_URL/v1/credentials")"
    if [[ "$code" != 200 ]] || ! grep -q '"AccessKeyId":"ASIA' "$TMP/check.json"; then
        cat "$TMP/check.json" >&2
        die "$1: agent answered $code, expected 200 with credentials"
    fi
}

check_eks_auth() {
    local code line
    local -a hdrs=()
    while IFS= read -r line; do
        case "${line%%:*}" in [Hh]ost | [Cc]ontent-[Ll]ength) continue ;; esac
        hdrs+=(-H "$line")
    done <"$TMP/eks-auth-headers.txt"
    code="$(curl -sS --max-time 10 -o "$TMP/check-eks.json" -w '%{http_code}' -X POST "${hdrs[@]}" \
        --data-binary "@$TMP/eks-auth-body.json" "$SERVER_URL/clusters/$CLUSTER/assume-role-for-pod-identity")" || true
    if [[ "$code" != 200 ]] || ! grep -q '"accessKeyId":"ASIA' "$TMP/check-eks.json"; then
        cat "$TMP/check-eks.json" >&2
        die "signed eks-auth request: HTTP $code, expected 200 with credentials"
    fi
}

# ------------------------------------------------------------------ runs

run_case() { # CASE
    local kind=$1 c t script url
    for c in $CONNECTIONS; do
        t=$WRK_THREADS
        case "$kind" in
            hit)
                start_agent
                check_ok hit "$TMP/token-hit.jwt" # fills the cache
                export BENCH_TOKEN_FILE="$TMP/token-hit.jwt"
                script="$HERE/wrk/agent-hit.lua"; url="$AGENT_URL/v1/credentials" ;;
            miss)
                start_agent
                export BENCH_TOKENS_FILE="$TMP/tokens-miss.txt"
                script="$HERE/wrk/agent-miss.lua"; url="$AGENT_URL/v1/credentials"; t=1 ;;
            eks-auth)
                [[ -n "${AGENT_PID:-}" ]] || start_agent # for the accounting only; idle
                sign_eks_auth
                export BENCH_BODY_FILE="$TMP/eks-auth-body.json" BENCH_HEADERS_FILE="$TMP/eks-auth-headers.txt"
                script="$HERE/wrk/eks-auth.lua"; url="$SERVER_URL/clusters/$CLUSTER/assume-role-for-pod-identity" ;;
        esac
        log "$kind: wrk -t$t -c$c -d${DURATION}s (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
        wrk_run "$kind" "$url" "$script" "$c" "$t"
        print_run "$kind" "$c" "$RUN_LINE"
        keep_best "$kind" "$c"
        if [[ "$kind" == miss ]] && (($(field "$RUN_LINE" hits) > 0)); then
            log "WARNING: $(field "$RUN_LINE" hits) cache hits during the miss run"
        fi
    done
}

# --------------------------------------------------------------------- main

need curl
need python3
need aws
ensure_wrk
locate_podiam
log "podiam binary: $PODIAM_BIN"
log "wrk: $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), ${DURATION}s per run, connections: $CONNECTIONS"
log "machine: $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

start_server
setup
mint_miss_tokens
start_agent
check_ok "hit token" "$TMP/token-hit.jwt"
[[ ! -s "$TMP/tokens-miss.txt" ]] || check_ok "miss token" <(head -n1 "$TMP/tokens-miss.txt")
if [[ " $CASES " == *" eks-auth "* ]]; then
    sign_eks_auth
    check_eks_auth
fi
log "checks passed: agent hit and miss answer 200 with ASIA credentials; signed eks-auth answers 200"

for kind in $CASES; do
    run_case "$kind"
done
CALIB_LINE=""
if [[ "$CALIBRATE" == 1 ]]; then
    start_agent
    c=${BEST_CONNS[hit]:-16}
    log "calibration: GET /healthz on the agent, c=$c"
    wrk_run healthz "$AGENT_URL/healthz" "$HERE/wrk/get.lua" "$c" "$WRK_THREADS"
    print_run healthz "$c" "$RUN_LINE"
    CALIB_LINE=$RUN_LINE
fi

# ------------------------------------------------------------------- report

row() { # LABEL CONNS LINE
    printf '%-26s %5s %10s %9s %9s %9s %7s %9s %6s %6s %5s %5s %11s %11s\n' \
        "$1" "$2" "$(field "$3" rps)" "$(ms "$(field "$3" p50_us)")" "$(ms "$(field "$3" p90_us)")" \
        "$(ms "$(field "$3" p99_us)")" "$(field "$3" non2xx)" "$(sock_errs "$3")" \
        "$(field "$3" agent_cores)" "$(field "$3" srv_cores)" "$(field "$3" wrk_cores)" "$(field "$3" other_cores)" \
        "$(field "$3" hits)/$(field "$3" misses)" "$(field "$3" up_mean_us)"
}
label() {
    case "$1" in
        hit) echo "hit (cached)" ;;
        miss) echo "miss (eks-auth round trip)" ;;
        eks-auth) echo "eks-auth direct (no agent)" ;;
        *) echo "$1" ;;
    esac
}

echo
echo "podiam agent GET /v1/credentials over loopback: wrk, ${DURATION}s per run, best of connections {$CONNECTIONS}"
echo "$(nproc) cores shared by the agent, podiam, wrk and anything else (loadavg at end $(cut -d' ' -f1-3 /proc/loadavg))"
echo "cpu columns: cores used during the run by the agent / podiam serve / wrk / everything else;"
echo "hit/miss: the agent's cache counters during the run; upstream us: the agent's mean eks-auth call time"
echo
printf '%-26s %5s %10s %9s %9s %9s %7s %9s %6s %6s %5s %5s %11s %11s\n' \
    case conns "req/s" p50 p90 p99 non-2xx sock-errs agent podiam wrk other "hit/miss" "upstream us"
for c in $CASES; do
    [[ -n "${BEST_LINE[$c]:-}" ]] && row "$(label "$c")" "${BEST_CONNS[$c]}" "${BEST_LINE[$c]}"
done
[[ -z "$CALIB_LINE" ]] || row "(agent /healthz ceiling)" "${BEST_CONNS[hit]:-16}" "$CALIB_LINE"
echo

busiest=0
for c in $CASES; do
    [[ -n "${BEST_LINE[$c]:-}" ]] || continue
    busiest="$(awk -v a="$busiest" -v b="$(field "${BEST_LINE[$c]}" other_cores)" 'BEGIN{ print (b > a ? b : a) }')"
done
if awk -v b="$busiest" 'BEGIN{ exit !(b > 0.15) }'; then
    echo "WARNING: other processes used up to $busiest cores during these runs; req/s are depressed."
    echo "         Rerun with BENCH_WAIT_QUIET=180."
fi

if [[ -n "${BENCH_RESULTS_DIR:-}" ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    out="$BENCH_RESULTS_DIR/agent.tsv"
    printf 'bench\tcase\tconnections\trps\tp50_us\tp90_us\tp99_us\tnon2xx\tsocket_errors\tagent_cores\tsrv_cores\twrk_cores\tother_cores\tcache_hits\tcache_misses\tupstream_mean_us\n' >"$out"
    tsv() { # CASE CONNS LINE
        printf 'agent\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(field "$3" rps)" \
            "$(field "$3" p50_us)" "$(field "$3" p90_us)" "$(field "$3" p99_us)" "$(field "$3" non2xx)" \
            "$(sock_errs "$3")" "$(field "$3" agent_cores)" "$(field "$3" srv_cores)" "$(field "$3" wrk_cores)" \
            "$(field "$3" other_cores)" "$(field "$3" hits)" "$(field "$3" misses)" "$(field "$3" up_mean_us)" >>"$out"
    }
    for c in $CASES; do
        [[ -n "${BEST_LINE[$c]:-}" ]] && tsv "$c" "${BEST_CONNS[$c]}" "${BEST_LINE[$c]}"
    done
    [[ -z "$CALIB_LINE" ]] || tsv agent-healthz "${BEST_CONNS[hit]:-16}" "$CALIB_LINE"
    log "wrote $out"
fi
exit 0
