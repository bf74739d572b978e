#!/usr/bin/env bash
# S3 throughput: podiam vs moto, side by side in one run; or, with
# `--backend garage`, podiam in front of a 3-node Garage cluster (replication
# factor 3, started here on loopback) vs the same requests straight to Garage
# with its own key: what podiam's IAM layer costs.
#
# Two requests, each replayed by wrk for a fixed duration at a few
# connection counts (the best is kept):
#   get4k   a presigned GetObject of a 4 KiB object (X-Amz-Expires 3600,
#           signed by a web identity session: X-Amz-Security-Token in the URL)
#   put64k  a SigV4-signed PutObject of 64 KiB (payload hash signed; replayed
#           like list1k, so every request overwrites one object)
#   list1k  a ListObjectsV2 of a prefix holding 1,000 keys (one full page),
#           SigV4-signed in headers by the same session (x-amz-security-token
#           header). wrk cannot sign per request, so botocore signs and sends
#           the request once right before each run and wrk replays exactly
#           those headers: valid SigV4 while X-Amz-Date is within the 15-minute
#           skew window, and every replay is verified in full by podiam
#           (signature, session token, policy), as a fresh request would be.
#
# podiam: release build on a free loopback port with a throw-away data dir;
# a cluster, an IAM OIDC provider, a role whose trust policy admits
# system:serviceaccount:default:sa-bench and whose inline policy allows
# s3:GetObject / s3:PutObject / s3:ListBucket on the bench bucket only. The session comes
# from AssumeRoleWithWebIdentity with a `podiam token`. The admin creates the
# bucket and the objects. moto: `moto_server`, same bucket, objects and calls
# (it checks no signature: its session is whatever its STS hands out).
#
# Before any load both requests must answer 200 with the expected body, and a
# tampered copy of each is sent: podiam must refuse it (403); moto's answer is
# reported.
#
# Everything is on 127.0.0.1; every load run is bounded by BENCH_DURATION and
# every process this script starts is stopped on exit.
#
# Environment (all optional):
#   PODIAM_BIN          podiam binary (default: target/release/podiam, built
#                       with `cargo build --release -p podiam` if missing)
#   PODIAM_BUILD=1      run `cargo build --release -p podiam` first
#   MOTO_SERVER         moto_server executable (default: moto_server on PATH)
#   BENCH_DURATION      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS   connection counts to try (default "16 64")
#   BENCH_WRK_THREADS   wrk threads (default 1: the machine has 2 cores)
#   BENCH_TARGETS       "podiam moto" (default; with --backend garage:
#                       "podiam garage") or just one of them
#   BENCH_SCENARIOS     "get4k list1k" (default; with --backend garage:
#                       "get4k put64k"), any of get4k put64k list1k
#   GARAGE_BIN          garage executable (default: garage on PATH, else
#                       ~/.cargo/bin/garage; `bash .ci/run` installs it)
#   BENCH_CALIBRATE=0   skip the GET /healthz ceiling run against podiam
#   BENCH_WAIT_QUIET=N  before each load run, wait up to N s until the rest of
#                       the machine uses < BENCH_QUIET_CORES (0.3) cores
#   BENCH_MICRO=1       also run the divan micro-bench of SigV4 + policy
#                       evaluation (`cargo bench -p podiam-s3 --bench authz`;
#                       builds it in release mode first: a few minutes)
#   BENCH_RESULTS_DIR   if set, writes s3.tsv there
#   BENCH_KEEP_TMP=1    keep the temp dir (logs, requests, wrk output)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

BACKEND=fs
while [[ $# -gt 0 ]]; do
    case "$1" in
        --backend) BACKEND="${2:-}"; shift 2 ;;
        --backend=*) BACKEND="${1#*=}"; shift ;;
        *) echo "usage: $0 [--backend fs|garage]" >&2; exit 2 ;;
    esac
done
case "$BACKEND" in
    fs) DEFAULT_TARGETS="podiam moto"; DEFAULT_SCENARIOS="get4k list1k" ;;
    garage) DEFAULT_TARGETS="podiam garage"; DEFAULT_SCENARIOS="get4k put64k" ;;
    *) echo "unknown backend $BACKEND (fs|garage)" >&2; exit 2 ;;
esac

DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-16 64}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
TARGETS="${BENCH_TARGETS:-$DEFAULT_TARGETS}"
SCENARIOS="${BENCH_SCENARIOS:-$DEFAULT_SCENARIOS}"
CALIBRATE="${BENCH_CALIBRATE:-1}"
WAIT_QUIET="${BENCH_WAIT_QUIET:-0}"
QUIET_CORES="${BENCH_QUIET_CORES:-0.3}"
MICRO="${BENCH_MICRO:-0}"
MOTO_SERVER="${MOTO_SERVER:-moto_server}"
ACCOUNT=000000000000
ROLE_NAME=s3-bench-role
ROLE_ARN="arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}"
SA_NS=default
SA_NAME=sa-bench
BUCKET=bench
CALIB_LINE=""

log() { printf '[s3] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init s3

# ---------------------------------------------------------------- prerequisites

# The S3 side of the setup and the signing, with boto3 (one helper, several
# commands). Credentials come from the environment of each call.
cat >"$TMP/s3bench.py" <<'PY'
import json, os, sys, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore import UNSIGNED
from botocore.config import Config

cmd, ep = sys.argv[1], sys.argv[2]
BUCKET = os.environ.get("BENCH_BUCKET", "bench")
# No CRC trailers: a replayable request whose signature covers its payload.
cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
             retries={"max_attempts": 1}, request_checksum_calculation="when_required")

def client(creds=None):
    kw = {}
    if creds:
        kw = dict(aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds.get("SessionToken"))
    return boto3.client("s3", endpoint_url=ep, config=cfg, **kw)

def capture(s3, operation):
    # the request of `operation` exactly as botocore sends it: method, URL,
    # headers and body (a file-like body is read and rewound)
    seen = {}
    def hook(request, **kw):
        seen["method"], seen["url"] = request.method, request.url
        seen["headers"] = [(k, v.decode() if isinstance(v, bytes) else v)
                           for k, v in request.headers.items()]
        body = request.body or b""
        if hasattr(body, "read"):
            pos = body.tell()
            seen["body"] = body.read()
            body.seek(pos)  # still to be sent
        else:
            seen["body"] = body if isinstance(body, bytes) else body.encode()
    s3.meta.events.register("before-send.s3." + operation, hook)
    return seen

def tampered_status(url, headers, body=None, method="GET"):
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            st, b = r.status, r.read()
    except urllib.error.HTTPError as e:
        st, b = e.code, e.read()
    code = b.split(b"<Code>")[1].split(b"</Code>")[0].decode() if b"<Code>" in b else ""
    return "%s %s" % (st, code)

def load(path):
    with open(path) as f:
        return json.load(f)

def fetch(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

if cmd == "prepare":
    # bucket, the 4 KiB object and 1,000 small objects under keys/
    s3 = client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="obj-4k", Body=os.urandom(4096))
    if os.environ.get("BENCH_LIST_KEYS", "1") == "1":
        def put(i):
            s3.put_object(Bucket=BUCKET, Key="keys/%05d" % i, Body=b"k%05d" % i)
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(put, range(1000)))
        n = sum(len(p.get("Contents", [])) for p in
                s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="keys/"))
        assert n == 1000, n

elif cmd == "session":
    # AssumeRoleWithWebIdentity (unsigned) -> credentials JSON
    role, token_file, out = sys.argv[3:6]
    sts = boto3.client("sts", endpoint_url=ep, config=Config(signature_version=UNSIGNED))
    with open(token_file) as f:
        token = f.read().strip()
    r = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="bench",
                                          WebIdentityToken=token)
    c = r["Credentials"]
    with open(out, "w") as f:
        json.dump({k: c[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}, f)
    print(r["AssumedRoleUser"]["Arn"])

elif cmd == "presign":
    # presigned GET of obj-4k, checked (200, 4096 bytes) -> URL on stdout;
    # then the same URL with one signature digit changed: its status on fd 3
    creds, expires = load(sys.argv[3]), int(sys.argv[4])
    url = client(creds).generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "obj-4k"}, ExpiresIn=expires)
    assert "X-Amz-Security-Token=" in url or not creds.get("SessionToken"), url
    st, body = fetch(url)
    if st != 200 or len(body) != 4096:
        sys.exit("presigned GET: HTTP %s, %d bytes: %r" % (st, len(body), body[:300]))
    i = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    bad = url[:i] + ("0" if url[i] != "0" else "1") + url[i + 1:]
    st, body = fetch(bad)
    code = body.split(b"<Code>")[1].split(b"</Code>")[0].decode() if b"<Code>" in body else ""
    with os.fdopen(3, "w") as f:
        f.write("%s %s" % (st, code))
    print(url)

elif cmd == "signed-put":
    # one real PutObject of 64 KiB, its payload hash signed in headers; the
    # request exactly as sent, body included, goes to OUT for wrk to replay;
    # a copy with one signature digit changed: its status on fd 3
    creds, out = load(sys.argv[3]), sys.argv[4]
    s3 = client(creds)
    seen = capture(s3, "PutObject")
    s3.put_object(Bucket=BUCKET, Key="obj-64k", Body=os.urandom(65536))
    hdrs = dict(seen["headers"])
    assert len(seen["body"]) == 65536, len(seen["body"])
    sha = hdrs.get("X-Amz-Content-SHA256", "")
    assert len(sha) == 64, "payload not signed: %r" % sha
    target = seen["url"][len(ep):]
    with open(out, "wb") as f:
        f.write(("%s %s\n" % (seen["method"], target)).encode())
        for k, v in seen["headers"]:
            f.write(("%s: %s\n" % (k, v)).encode())
        f.write(b"\n")
        f.write(seen["body"])
    bad = dict(hdrs)
    sig = bad["Authorization"]
    bad["Authorization"] = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    with os.fdopen(3, "w") as f:
        f.write(tampered_status(ep + target, bad, seen["body"], "PUT"))
    print(len(seen["body"]))

elif cmd == "signed-list":
    # one real ListObjectsV2 of keys/ (1,000 keys), signed in headers by the
    # session; the request exactly as sent goes to OUT for wrk to replay;
    # a tampered copy (other prefix, same signature): its status on fd 3
    creds, out = load(sys.argv[3]), sys.argv[4]
    s3 = client(creds)
    seen = capture(s3, "ListObjectsV2")
    r = s3.list_objects_v2(Bucket=BUCKET, Prefix="keys/")
    if r["KeyCount"] != 1000 or r["IsTruncated"]:
        sys.exit("ListObjectsV2: KeyCount %s, truncated %s" % (r["KeyCount"], r["IsTruncated"]))
    hdrs = dict(seen["headers"])
    assert "X-Amz-Security-Token" in hdrs and hdrs["Authorization"].startswith("AWS4-HMAC-SHA256")
    target = seen["url"][len(ep):]
    with open(out, "w") as f:
        f.write("%s %s\n" % (seen["method"], target))
        for k, v in seen["headers"]:
            f.write("%s: %s\n" % (k, v))
    st, body = fetch(ep + target.replace("prefix=keys", "prefix=key"), headers=hdrs)
    code = body.split(b"<Code>")[1].split(b"</Code>")[0].decode() if b"<Code>" in body else ""
    with os.fdopen(3, "w") as f:
        f.write("%s %s" % (st, code))
    st, body = fetch(ep + target, headers=hdrs)
    if st != 200 or body.count(b"<Key>") != 1000:
        sys.exit("replayed ListObjectsV2: HTTP %s, %d keys" % (st, body.count(b"<Key>")))
    print(len(body))
PY

# ------------------------------------------------------------------ load runs

declare -A BEST_RPS BEST_CONNS BEST_LINE TAMPER RESP_BYTES RSS
CLK_TCK="$(getconf CLK_TCK)"

# scenario_load TARGET SCENARIO URL PGID: every connection count, keeps the
# best. list1k is re-signed (and sent once for real) before each run.
scenario_load() {
    local target=$1 scen=$2 url=$3 pg=$4 key="$2:$1" c rps script reqf="" runurl
    for c in $CONNECTIONS; do
        quiet_wait
        case "$scen" in
            get4k)
                script="$HERE/wrk/get.lua"
                runurl="$(cat "$TMP/$target-presigned.url")"
                ;;
            list1k | put64k)
                script="$HERE/wrk/signed.lua"
                reqf="$TMP/$target-$scen.req"
                runurl="$url"
                sign_request "$target" "$scen" "$url"
                ;;
        esac
        log "$target $scen: wrk -t$WRK_THREADS -c$c -d${DURATION}s (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
        wrk_run "$target-$scen" "$runurl" "$script" "$c" "$pg" "$reqf"
        print_run "$target $scen" "$c" "$RUN_LINE"
        rps="$(field "$RUN_LINE" rps)"
        if [[ -z "${BEST_RPS[$key]:-}" ]] || awk -v a="$rps" -v b="${BEST_RPS[$key]}" 'BEGIN{exit !(a>b)}'; then
            BEST_RPS[$key]=$rps
            BEST_CONNS[$key]=$c
            BEST_LINE[$key]=$RUN_LINE
        fi
    done
}

# sign_request TARGET SCENARIO URL: botocore signs and sends the list1k or
# put64k request once for real, right before a run; the request as sent goes
# to $TMP/TARGET-SCENARIO.req for wrk, its size to .size, and the status of a
# tampered copy to .tamper.
sign_request() {
    local target=$1 scen=$2 url=$3 cmd=signed-list what=ListObjectsV2
    [[ "$scen" == put64k ]] && { cmd=signed-put; what=PutObject; }
    target_env "$target" python3 "$TMP/s3bench.py" "$cmd" "$url" "$TMP/$target-session.json" "$TMP/$target-$scen.req" \
        >"$TMP/$target-$scen.size" 3>"$TMP/$target-$scen.tamper" ||
        die "$target: the signed $what failed before the load"
}

# checks TARGET URL: both requests once, their sizes, the tampered copies.
checks() {
    local target=$1 url=$2 scen
    for scen in $SCENARIOS; do
        case "$scen" in
            get4k)
                target_env "$target" python3 "$TMP/s3bench.py" presign "$url" "$TMP/$target-session.json" 3600 \
                    >"$TMP/$target-presigned.url" 3>"$TMP/$target-get.tamper" ||
                    die "$target: presigned GET failed before the load"
                RESP_BYTES["get4k:$target"]="$(curl -sS --max-time 10 -o /dev/null -w '%{size_download}' "$(cat "$TMP/$target-presigned.url")")"
                TAMPER["get4k:$target"]="$(cat "$TMP/$target-get.tamper")"
                ;;
            list1k | put64k)
                sign_request "$target" "$scen" "$url"
                RESP_BYTES["$scen:$target"]="$(cat "$TMP/$target-$scen.size")"
                TAMPER["$scen:$target"]="$(cat "$TMP/$target-$scen.tamper")"
                ;;
            *) die "unknown scenario $scen (get4k|put64k|list1k)" ;;
        esac
        log "$target $scen: 200, ${RESP_BYTES[$scen:$target]} bytes; tampered copy -> ${TAMPER[$scen:$target]}"
    done
}

# ------------------------------------------------------------------- podiam

bench_podiam() {
    local data="$TMP/podiam-data" addr url issuer_hp
    mkdir -p "$data"
    local -a backend=()
    if [[ "$BACKEND" == garage ]]; then
        backend=(--s3-backend "$GARAGE_URL" --s3-backend-region garage)
        export PODIAM_S3_BACKEND_ACCESS_KEY_ID="$GARAGE_KEY_ID" PODIAM_S3_BACKEND_SECRET_ACCESS_KEY="$GARAGE_SECRET"
    fi
    start_bg podiam "$TMP/podiam.log" "$PODIAM_BIN" serve --listen 127.0.0.1:0 --data-dir "$data" "${backend[@]}"
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
    log "podiam listening on $url"

    local -a penv=(env PODIAM_ENDPOINT="$url" PODIAM_DATA_DIR="$data")
    local -a admin=(env AWS_SHARED_CREDENTIALS_FILE="$data/admin-credentials" AWS_CONFIG_FILE=/dev/null)
    "${penv[@]}" "$PODIAM_BIN" cluster create demo >/dev/null
    "${penv[@]}" "$PODIAM_BIN" token --cluster demo --namespace "$SA_NS" \
        --service-account "$SA_NAME" --token-expiration 86400 >"$TMP/token.jwt"
    "${admin[@]}" aws --endpoint-url "$url" iam create-open-id-connect-provider --url "http://$issuer_hp" \
        --client-id-list sts.amazonaws.com >/dev/null
    cat >"$TMP/trust.json" <<EOF
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::${ACCOUNT}:oidc-provider/$issuer_hp"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"$issuer_hp:aud":"sts.amazonaws.com","$issuer_hp:sub":"system:serviceaccount:${SA_NS}:${SA_NAME}"}}}]}
EOF
    cat >"$TMP/policy.json" <<EOF
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::$BUCKET"},{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::$BUCKET/*"}]}
EOF
    "${admin[@]}" aws --endpoint-url "$url" iam create-role --role-name "$ROLE_NAME" \
        --assume-role-policy-document "file://$TMP/trust.json" >/dev/null
    "${admin[@]}" aws --endpoint-url "$url" iam put-role-policy --role-name "$ROLE_NAME" \
        --policy-name bench-read --policy-document "file://$TMP/policy.json"
    log "podiam: creating s3://$BUCKET with obj-4k and 1,000 keys"
    "${admin[@]}" BENCH_LIST_KEYS="$LIST_KEYS" python3 "$TMP/s3bench.py" prepare "$url"
    local arn
    arn="$(python3 "$TMP/s3bench.py" session "$url" "$ROLE_ARN" "$TMP/token.jwt" "$TMP/podiam-session.json")"
    log "podiam: session $arn"
    checks podiam "$url"
    local scen
    for scen in $SCENARIOS; do
        [[ "${TAMPER[$scen:podiam]}" == 403* ]] || die "podiam accepted a tampered $scen request: ${TAMPER[$scen:podiam]}"
    done

    for scen in $SCENARIOS; do
        scenario_load podiam "$scen" "$url" "$pid"
    done
    if [[ "$CALIBRATE" == 1 ]]; then
        local c=${BEST_CONNS[get4k:podiam]:-16}
        quiet_wait
        log "podiam: calibration, GET /healthz with c=$c"
        wrk_run podiam-healthz "$url/healthz" "$HERE/wrk/get.lua" "$c" "$pid"
        print_run "podiam /healthz" "$c" "$RUN_LINE"
        CALIB_LINE=$RUN_LINE
        CALIB_CONNS=$c
    fi
    # Still correct after the load.
    local code
    code="$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$(cat "$TMP/podiam-presigned.url" 2>/dev/null || echo "$url/healthz")")"
    [[ "$code" == 200 ]] || die "podiam: HTTP $code after the load"
    RSS[podiam]="$(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
    stop_bg "$pid"
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
    log "moto: creating s3://$BUCKET with obj-4k and 1,000 keys"
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing python3 "$TMP/s3bench.py" prepare "$url"
    # moto's STS hands out a session for any token; use podiam's if there is one.
    [[ -s "$TMP/token.jwt" ]] || printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJiZW5jaCJ9.' >"$TMP/token.jwt"
    local arn
    arn="$(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
        python3 "$TMP/s3bench.py" session "$url" "$ROLE_ARN" "$TMP/token.jwt" "$TMP/moto-session.json")"
    log "moto: session $arn"
    checks moto "$url"
    local scen
    for scen in $SCENARIOS; do
        scenario_load moto "$scen" "$url" "$pid"
    done
    RSS[moto]="$(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
    stop_bg "$pid"
}

# ------------------------------------------------------------------- garage

# A 3-node Garage cluster on free loopback ports, replication factor 3, one
# process group (so its CPU is counted as one server's); sets GARAGE_URL
# (node 1's S3 API), GARAGE_KEY_ID, GARAGE_SECRET and GARAGE_PID.
start_garage() {
    local bin="${GARAGE_BIN:-$(command -v garage || echo "${CARGO_HOME:-$HOME/.cargo}/bin/garage")}"
    [[ -x "$bin" ]] || die "garage not found (GARAGE_BIN; bash .ci/run installs it with cargo install)"
    local dir="$TMP/garage" secret i rpc s3p adm
    secret="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
    local -a cfgs=() rpcs=() s3s=() ports
    mapfile -t ports < <(free_ports 9)
    for i in 1 2 3; do
        mkdir -p "$dir/n$i"
        rpc="${ports[$((3 * i - 3))]}"; s3p="${ports[$((3 * i - 2))]}"; adm="${ports[$((3 * i - 1))]}"
        cat >"$dir/n$i/garage.toml" <<EOF
metadata_dir = "$dir/n$i/meta"
data_dir = "$dir/n$i/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3p"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$adm"
admin_token = "$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
EOF
        cfgs+=("$dir/n$i/garage.toml"); rpcs+=("$rpc"); s3s+=("$s3p")
    done
    start_bg garage "$TMP/garage.log" bash -c \
        'for c in "$@"; do RUST_LOG=garage=warn "$0" -c "$c" server & done; wait' "$bin" "${cfgs[@]}"
    GARAGE_PID=$BG_PID
    for i in 0 1 2; do
        for _ in $(seq 1 300); do
            (exec 3<>"/dev/tcp/127.0.0.1/${rpcs[$i]}") 2>/dev/null &&
                (exec 3<>"/dev/tcp/127.0.0.1/${s3s[$i]}") 2>/dev/null && break
            kill -0 "$GARAGE_PID" 2>/dev/null || { cat "$TMP/garage.log" >&2; die "garage exited during start-up"; }
            sleep 0.1
        done
    done
    local g=("$bin" -c "${cfgs[0]}") id
    for i in 1 2; do "${g[@]}" node connect "$("$bin" -c "${cfgs[$i]}" node id -q)" >/dev/null; done
    for i in 0 1 2; do
        id="$("$bin" -c "${cfgs[$i]}" node id -q)"
        "${g[@]}" layout assign -z "dc$i" -c 1G "${id:0:16}" >/dev/null
    done
    "${g[@]}" layout apply --version 1 >/dev/null
    "${g[@]}" key create podiam >/dev/null
    "${g[@]}" key allow --create-bucket podiam >/dev/null
    local info
    info="$("${g[@]}" key info podiam --show-secret)"
    GARAGE_KEY_ID="$(sed -n 's/^Key ID: *//p' <<<"$info")"
    GARAGE_SECRET="$(sed -n 's/^Secret key: *//p' <<<"$info")"
    GARAGE_URL="http://127.0.0.1:${s3s[0]}"
    log "garage: 3 nodes, replication factor 3, node 1 at $GARAGE_URL ($("$bin" --version 2>&1 | head -n1))"
}

# The same requests straight to Garage, signed with its own key (no session).
bench_garage() {
    local url="$GARAGE_URL"
    printf '{"AccessKeyId": "%s", "SecretAccessKey": "%s"}' "$GARAGE_KEY_ID" "$GARAGE_SECRET" >"$TMP/garage-session.json"
    log "garage: creating s3://$BUCKET-direct with obj-4k"
    AWS_ACCESS_KEY_ID="$GARAGE_KEY_ID" AWS_SECRET_ACCESS_KEY="$GARAGE_SECRET" AWS_DEFAULT_REGION=garage \
        BENCH_BUCKET="$BUCKET-direct" BENCH_LIST_KEYS="$LIST_KEYS" python3 "$TMP/s3bench.py" prepare "$url"
    checks garage "$url"
    local scen
    for scen in $SCENARIOS; do
        [[ "${TAMPER[$scen:garage]}" == 403* ]] || die "garage accepted a tampered $scen request: ${TAMPER[$scen:garage]}"
        scenario_load garage "$scen" "$url" "$GARAGE_PID"
    done
    RSS[garage]="$(for p in $(pgrep -g "$GARAGE_PID" -x garage); do awk '/VmHWM/{print $2}' "/proc/$p/status"; done |
        awk '{ s += $1 } END { printf "%.0fMiB (3 nodes)", s/1024 }')"
}

# target_env TARGET CMD...: runs CMD with the target's bucket and region.
target_env() {
    local t=$1
    shift
    if [[ "$t" == garage ]]; then
        AWS_DEFAULT_REGION=garage AWS_REGION=garage BENCH_BUCKET="$BUCKET-direct" "$@"
    else
        "$@"
    fi
}

# ------------------------------------------------------------------- micro

MICRO_OUT=""
bench_micro() {
    log "micro-bench: cargo bench -p podiam-s3 --bench authz (release build first)"
    MICRO_OUT="$TMP/micro.txt"
    (cd "$ROOT" && cargo bench -p podiam-s3 --bench authz) >"$MICRO_OUT" 2>&1 ||
        { cat "$MICRO_OUT" >&2; die "the micro-bench failed"; }
}

# --------------------------------------------------------------------- main

need curl
need python3
need aws
python3 -c 'import boto3' 2>/dev/null || die "boto3 is required"
ensure_wrk
for t in $TARGETS; do [[ "$t" == podiam ]] && locate_podiam; done
[[ -n "${PODIAM_BIN:-}" ]] && log "podiam binary: $PODIAM_BIN"
log "wrk: $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), $WRK_THREADS thread(s), ${DURATION}s per run, connections: $CONNECTIONS"
log "machine: $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

LIST_KEYS=0
[[ " $SCENARIOS " == *" list1k "* ]] && LIST_KEYS=1
[[ "$BACKEND" == garage ]] && start_garage
for t in $TARGETS; do
    case "$t" in
        podiam) bench_podiam ;;
        moto) bench_moto ;;
        garage) [[ "$BACKEND" == garage ]] || die "target garage needs --backend garage"; bench_garage ;;
        *) die "unknown target $t (podiam|moto|garage)" ;;
    esac
done
[[ "$MICRO" == 1 ]] && bench_micro

# ------------------------------------------------------------------- report

row() { # LABEL CONNS LINE EXTRA
    printf '%-18s %5s %10s %9s %9s %9s %8s %9s %7s %6s %6s %9s  %s\n' \
        "$1" "$2" "$(field "$3" rps)" "$(ms "$(field "$3" p50_us)")" "$(ms "$(field "$3" p90_us)")" \
        "$(ms "$(field "$3" p99_us)")" "$(field "$3" non2xx)" "$(sock_errs "$3")" \
        "$(field "$3" srv_cores)" "$(field "$3" wrk_cores)" "$(field "$3" other_cores)" \
        "$(field "$3" srv_us_per_req)" "$4"
}

echo
echo "S3 over loopback: wrk -t${WRK_THREADS}, ${DURATION}s per run, best of connections {$CONNECTIONS}"
echo "$(nproc) cores shared by the server, wrk and anything else running (loadavg at end $(cut -d' ' -f1-3 /proc/loadavg))"
echo "get4k: presigned GetObject, 4 KiB object; put64k: header-signed PutObject, 64 KiB; list1k: header-signed ListObjectsV2, 1,000 keys"
echo "podiam's requests carry a web identity session token; garage's are signed with its own key (backend: $BACKEND)"
echo
printf '%-18s %5s %10s %9s %9s %9s %8s %9s %7s %6s %6s %9s  %s\n' \
    "scenario target" conns "req/s" p50 p90 p99 non-2xx sock-errs "cpu:srv" wrk other "srv us/req" "resp bytes, max RSS"
for scen in $SCENARIOS; do
    for t in $TARGETS; do
        [[ -n "${BEST_LINE[$scen:$t]:-}" ]] || continue
        row "$scen $t" "${BEST_CONNS[$scen:$t]}" "${BEST_LINE[$scen:$t]}" "${RESP_BYTES[$scen:$t]:-?} B, ${RSS[$t]:-?}"
    done
done
if [[ -n "$CALIB_LINE" ]]; then
    row "podiam /healthz" "$CALIB_CONNS" "$CALIB_LINE" "ceiling: no-op handler, same server+wrk+loopback"
fi
echo
for scen in $SCENARIOS; do
    if [[ -n "${BEST_RPS[$scen:podiam]:-}" && -n "${BEST_RPS[$scen:moto]:-}" ]]; then
        awk -v s="$scen" -v p="${BEST_RPS[$scen:podiam]}" -v m="${BEST_RPS[$scen:moto]}" \
            'BEGIN{ printf "ratio podiam/moto, %s: %.1fx\n", s, (m > 0 ? p/m : 0) }'
    fi
    if [[ -n "${BEST_RPS[$scen:podiam]:-}" && -n "${BEST_RPS[$scen:garage]:-}" ]]; then
        awk -v s="$scen" -v p="${BEST_RPS[$scen:podiam]}" -v g="${BEST_RPS[$scen:garage]}" \
            'BEGIN{ printf "podiam in front of garage, %s: %.2fx garage direct (%.1f%% of its throughput lost; target <= 15%%)\n", s, (g > 0 ? p/g : 0), (g > 0 ? 100 * (1 - p/g) : 0) }'
    fi
done
for scen in $SCENARIOS; do
    for t in $TARGETS; do
        [[ -n "${TAMPER[$scen:$t]:-}" ]] && echo "tampered $scen request -> $t: ${TAMPER[$scen:$t]}"
    done
done
if [[ -n "$MICRO_OUT" ]]; then
    echo
    echo "micro-bench (divan, per request; target <= 10 us for get_object_sigv4_and_policy):"
    grep -E 'get_object|parts|evaluate|policy_set|route_and|session_token|sigv4_parse' "$MICRO_OUT" || cat "$MICRO_OUT"
fi

busiest=0
for k in "${!BEST_LINE[@]}"; do
    # In front of Garage, podiam's "other" is mostly Garage serving it.
    [[ "$BACKEND" == garage && "$k" == *:podiam ]] && continue
    busiest="$(awk -v a="$busiest" -v b="$(field "${BEST_LINE[$k]}" other_cores)" 'BEGIN{ print (b > a ? b : a) }')"
done
if [[ "$BACKEND" == garage ]]; then
    echo "(podiam rows: cpu:srv and srv us/req are podiam's own; 'other' is mostly the Garage nodes behind it)"
fi
if awk -v b="$busiest" 'BEGIN{ exit !(b > 0.15) }'; then
    echo "WARNING: other processes used up to $busiest cores during these runs, so req/s (and the ratios) are"
    echo "         depressed and not comparable; compare 'srv us/req', or rerun with BENCH_WAIT_QUIET=180."
fi

if [[ -n "${BENCH_RESULTS_DIR:-}" ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    out="$BENCH_RESULTS_DIR/s3.tsv"
    printf 'bench\ttarget\tconnections\trps\tp50_us\tp90_us\tp99_us\tnon2xx\tsocket_errors\tsrv_cores\twrk_cores\tother_cores\tsrv_us_per_req\tresp_bytes\n' >"$out"
    for scen in $SCENARIOS; do
        for t in $TARGETS; do
            l="${BEST_LINE[$scen:$t]:-}"
            [[ -n "$l" ]] || continue
            printf 's3-%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$t" "${BEST_CONNS[$scen:$t]}" \
                "$(field "$l" rps)" "$(field "$l" p50_us)" "$(field "$l" p90_us)" "$(field "$l" p99_us)" \
                "$(field "$l" non2xx)" "$(sock_errs "$l")" "$(field "$l" srv_cores)" "$(field "$l" wrk_cores)" \
                "$(field "$l" other_cores)" "$(field "$l" srv_us_per_req)" "${RESP_BYTES[$scen:$t]:-}" >>"$out"
        done
    done
    [[ -n "$CALIB_LINE" ]] && printf 's3-healthz\tpodiam\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' "$CALIB_CONNS" \
        "$(field "$CALIB_LINE" rps)" "$(field "$CALIB_LINE" p50_us)" "$(field "$CALIB_LINE" p90_us)" \
        "$(field "$CALIB_LINE" p99_us)" "$(field "$CALIB_LINE" non2xx)" "$(sock_errs "$CALIB_LINE")" \
        "$(field "$CALIB_LINE" srv_cores)" "$(field "$CALIB_LINE" wrk_cores)" "$(field "$CALIB_LINE" other_cores)" \
        "$(field "$CALIB_LINE" srv_us_per_req)" >>"$out"
    log "wrote $out"
fi
exit 0
