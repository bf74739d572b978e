#!/usr/bin/env bash
# DynamoDB throughput: podiam vs moto vs dynoxide, side by side in one run.
#
# Three requests, each replayed by wrk for a fixed duration at a few
# connection counts (the best is kept):
#   getitem   GetItem of one 1 KiB item (partition tenant-1)
#   putitem   PutItem of one 1 KiB item (partition tenant-1; every replay
#             rewrites the same item)
#   query100  Query of partition tenant-1 with begins_with(sk, "q#"): 100 items
#             of 1 KiB in one page
# All three are SigV4-signed in headers by a web identity session
# (X-Amz-Security-Token). wrk cannot sign per request, so botocore signs each
# request right before each run, the script sends it once for real and checks
# the answer, and wrk replays exactly those headers and that body: valid SigV4
# while X-Amz-Date is within the 15-minute skew window, and every replay is
# verified in full by podiam (signature over the body, session token, identity
# policy with dynamodb:LeadingKeys), as a fresh request would be.
#
# podiam: release build on a free loopback port with a throw-away data dir;
# a cluster, an IAM OIDC provider, a role whose trust policy admits
# system:serviceaccount:default:sa-bench and whose inline policy allows
# dynamodb:GetItem / PutItem / Query on table `bench` only when every
# partition key touched is tenant-1 (ForAllValues:StringEquals
# dynamodb:LeadingKeys). The session comes from AssumeRoleWithWebIdentity with
# a `podiam token`. The admin creates the table (pk S HASH, sk S RANGE) and
# the items. moto: `moto_server`, same table, items and calls (it checks no
# signature and no policy; its session is whatever its STS hands out).
# dynoxide: the standalone dynoxide HTTP server (the engine podiam embeds,
# without authentication), same table, items and calls.
#
# Before any load every request must answer 200 with the expected content on
# every target. For each request two refused copies are sent: the signed
# request with tenant-1 changed to tenant-2 in the body (same headers: the
# signature no longer matches) and a correctly signed request for tenant-2
# (the LeadingKeys policy refuses it). podiam must answer 400
# InvalidSignatureException and 400 AccessDeniedException; moto's and
# dynoxide's answers are reported.
#
# Everything is on 127.0.0.1; every load run is bounded by BENCH_DURATION and
# every process this script starts is stopped on exit.
#
# Environment (all optional):
#   PODIAM_BIN          podiam binary (default: target/release/podiam, built
#                       with `cargo build --release -p podiam` if missing)
#   PODIAM_BUILD=1      run `cargo build --release -p podiam` first
#   MOTO_SERVER         moto_server executable (default: moto_server on PATH)
#   DYNOXIDE_BIN        dynoxide executable (default: dynoxide on PATH, else
#                       target/bench-tools/bin/dynoxide, else installed there
#                       with `cargo install --locked dynoxide-rs --version V
#                       --root target/bench-tools`, V = the vendored engine's
#                       version; if that fails, dynoxide is skipped)
#   BENCH_DYNOXIDE_DB   "file" (default: --db-path in the temp dir, SQLite WAL
#                       with synchronous=FULL, as podiam's engine) or "memory"
#   BENCH_DURATION      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS   connection counts to try (default "16 64")
#   BENCH_WRK_THREADS   wrk threads (default 1: the machine has 2 cores)
#   BENCH_TARGETS       "podiam moto dynoxide" (default) or a subset
#   BENCH_SCENARIOS     "getitem putitem query100" (default) or a subset
#   BENCH_CALIBRATE=0   skip the GET /healthz ceiling run against podiam
#   BENCH_WAIT_QUIET=N  before each load run, wait up to N s until the rest of
#                       the machine uses < BENCH_QUIET_CORES (0.3) cores
#   BENCH_RESULTS_DIR   if set, writes dynamodb.tsv there
#   BENCH_KEEP_TMP=1    keep the temp dir (logs, requests, wrk output)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-16 64}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
TARGETS="${BENCH_TARGETS:-podiam moto dynoxide}"
SCENARIOS="${BENCH_SCENARIOS:-getitem putitem query100}"
CALIBRATE="${BENCH_CALIBRATE:-1}"
WAIT_QUIET="${BENCH_WAIT_QUIET:-0}"
QUIET_CORES="${BENCH_QUIET_CORES:-0.3}"
MOTO_SERVER="${MOTO_SERVER:-moto_server}"
DYNOXIDE_DB="${BENCH_DYNOXIDE_DB:-file}"
ACCOUNT=000000000000
ROLE_NAME=dynamodb-bench-role
ROLE_ARN="arn:aws:iam::${ACCOUNT}:role/${ROLE_NAME}"
SA_NS=default
SA_NAME=sa-bench
TABLE=bench
TABLE_ARN="arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${TABLE}"
TENANT=tenant-1
CALIB_LINE=""
SKIPPED=""

log() { printf '[dynamodb] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init dynamodb

# ---------------------------------------------------------------- prerequisites

# The DynamoDB side of the setup, the signing and the checks, with boto3 and
# botocore (one helper, several commands). Credentials come from a session
# JSON file, or from the environment of the call ("-").
cat >"$TMP/ddbbench.py" <<'PY'
import http.client, json, os, sys, time, urllib.parse
import boto3
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

cmd, ep = sys.argv[1], sys.argv[2]
TABLE = os.environ.get("BENCH_TABLE", "bench")
REGION = "us-east-1"
TENANT, OTHER = "tenant-1", "tenant-2"
ITEM_BYTES = 1024
N_QUERY = 100
OPS = {"getitem": "GetItem", "putitem": "PutItem", "query100": "Query"}
cfg = Config(retries={"max_attempts": 1})

def load(path):
    with open(path) as f:
        return json.load(f)

def item(pk, sk):
    # 1 KiB by DynamoDB's measure: attribute names plus values (UTF-8).
    pad = ITEM_BYTES - len("pk") - len(pk) - len("sk") - len(sk) - len("data")
    return {"pk": {"S": pk}, "sk": {"S": sk}, "data": {"S": ("0123456789abcdef" * 64)[:pad]}}

def data_len(sk, pk=TENANT):
    return len(item(pk, sk)["data"]["S"])

def payload(scen, tenant):
    if scen == "getitem":
        return {"TableName": TABLE, "Key": {"pk": {"S": tenant}, "sk": {"S": "item-1k"}}}
    if scen == "putitem":
        return {"TableName": TABLE, "Item": item(tenant, "put-1k")}
    if scen == "query100":
        return {"TableName": TABLE,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :q)",
                "ExpressionAttributeValues": {":pk": {"S": tenant}, ":q": {"S": "q#"}}}
    sys.exit("unknown scenario %s" % scen)

def client(creds):
    kw = {}
    if creds:
        kw = dict(aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"])
    return boto3.client("dynamodb", endpoint_url=ep, region_name=REGION, config=cfg, **kw)

def sign(creds, scen, tenant):
    # The request as an SDK sends it: POST /, AWS JSON 1.0, SigV4 in headers
    # (host;x-amz-date;x-amz-security-token;x-amz-target;content-type signed,
    # the body's SHA-256 in the signature).
    body = json.dumps(payload(scen, tenant), separators=(",", ":")).encode()
    req = AWSRequest(method="POST", url=ep + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810." + OPS[scen],
    })
    SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]),
              "dynamodb", REGION).add_auth(req)
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()]
    headers.append(("User-Agent", "podiam-bench"))
    return headers, body

def send(headers, body):
    u = urllib.parse.urlsplit(ep)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("POST", "/", body=body,
                     headers={k: v for k, v in headers if k.lower() != "content-length"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()

def write_req(path, headers, body):
    with open(path, "wb") as f:
        f.write(b"POST /\n")
        for k, v in headers:
            f.write(("%s: %s\n" % (k, v)).encode())
        f.write(b"\n")
        f.write(body)

def read_req(path):
    # Parsed as bench/wrk/signed.lua parses it.
    with open(path, "rb") as f:
        raw = f.read()
    head, body = raw.split(b"\n\n", 1)
    lines = head.decode().split("\n")
    assert lines[0] == "POST /", lines[0]
    return [tuple(p.strip() for p in l.split(":", 1)) for l in lines[1:]], body

def summary(st, body):
    # One short line for the report.
    try:
        j = json.loads(body)
    except ValueError:
        return "%s %r" % (st, body[:80])
    if not isinstance(j, dict):
        return "%s %r" % (st, body[:80])
    if "__type" in j:
        return "%s %s" % (st, j["__type"].split("#")[-1])
    if "Item" in j:
        return "%s (item %s/%s returned)" % (st, j["Item"]["pk"]["S"], j["Item"]["sk"]["S"])
    if "Count" in j:
        return "%s (Count %s of partition %s)" % (st, j["Count"],
                                                  j["Items"][0]["pk"]["S"] if j.get("Items") else "-")
    return "%s %s" % (st, json.dumps(j)[:60])

def check(scen, st, body, creds):
    # The expected answer to tenant-1's request, else exit non-zero.
    try:
        j = json.loads(body)
    except ValueError:
        j = None
    if st != 200 or not isinstance(j, dict) or "__type" in j:
        sys.exit("%s: HTTP %s: %r" % (scen, st, body[:300]))
    if scen == "getitem":
        it = j.get("Item") or {}
        if (it.get("pk", {}).get("S"), it.get("sk", {}).get("S")) != (TENANT, "item-1k") or \
                len(it.get("data", {}).get("S", "")) != data_len("item-1k"):
            sys.exit("getitem: unexpected item %r" % body[:300])
    elif scen == "putitem":
        # PutItem answers {}; the item must then be there, in full.
        got = client(creds).get_item(TableName=TABLE, ConsistentRead=True,
                                     Key={"pk": {"S": TENANT}, "sk": {"S": "put-1k"}}).get("Item")
        if got != item(TENANT, "put-1k"):
            sys.exit("putitem: the item read back is %r" % (got,))
    elif scen == "query100":
        items = j.get("Items") or []
        if j.get("Count") != N_QUERY or len(items) != N_QUERY or "LastEvaluatedKey" in j or \
                any(i["pk"]["S"] != TENANT or len(i["data"]["S"]) != data_len(i["sk"]["S"]) for i in items):
            sys.exit("query100: Count %s, %d items, LastEvaluatedKey %s" %
                     (j.get("Count"), len(items), j.get("LastEvaluatedKey")))

if cmd == "prepare":
    # table bench (pk S HASH, sk S RANGE), then for tenant-1 and tenant-2:
    # item-1k, put-1k and q#000..q#099, all 1 KiB
    creds = None if sys.argv[3] == "-" else load(sys.argv[3])
    ddb = client(creds)
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    for _ in range(300):
        if ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    else:
        sys.exit("table %s never became ACTIVE" % TABLE)
    items = [item(t, sk) for t in (TENANT, OTHER)
             for sk in ["item-1k", "put-1k"] + ["q#%03d" % i for i in range(N_QUERY)]]
    for i in range(0, len(items), 25):
        req = {TABLE: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]}
        for _ in range(50):
            req = ddb.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}
            if not req:
                break
            time.sleep(0.1)
        else:
            sys.exit("batch_write_item kept items unprocessed")
    for t in (TENANT, OTHER):
        n = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                      ExpressionAttributeValues={":pk": {"S": t}}, Select="COUNT")["Count"]
        assert n == N_QUERY + 2, (t, n)

elif cmd == "session":
    # AssumeRoleWithWebIdentity (unsigned) -> credentials JSON
    role, token_file, out = sys.argv[3:6]
    sts = boto3.client("sts", endpoint_url=ep, region_name=REGION,
                       config=Config(signature_version=UNSIGNED))
    with open(token_file) as f:
        token = f.read().strip()
    r = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="bench",
                                          WebIdentityToken=token)
    c = r["Credentials"]
    with open(out, "w") as f:
        json.dump({k: c[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}, f)
    print(r["AssumedRoleUser"]["Arn"])

elif cmd == "request":
    # tenant-1's request for SCEN, signed now, written to OUT for wrk, then
    # sent once as written there and checked -> response bytes on stdout
    creds, scen, out = load(sys.argv[3]), sys.argv[4], sys.argv[5]
    headers, body = sign(creds, scen, TENANT)
    write_req(out, headers, body)
    st, resp = send(*read_req(out))
    check(scen, st, resp, creds)
    print(len(resp))

elif cmd == "refused":
    # the copies that must be refused -> two lines on stdout:
    #   tampered <answer>   REQ with tenant-1 changed to tenant-2 in the body
    #                       (same signed headers)
    #   other <answer>      a correctly signed request for tenant-2
    creds, scen, reqf = load(sys.argv[3]), sys.argv[4], sys.argv[5]
    headers, body = read_req(reqf)
    bad = body.replace(TENANT.encode(), OTHER.encode())
    assert bad != body and len(bad) == len(body)
    print("tampered %s" % summary(*send(headers, bad)))
    print("other %s" % summary(*send(*sign(creds, scen, OTHER))))

else:
    sys.exit("unknown command %s" % cmd)
PY

# ------------------------------------------------------------------ load runs

declare -A BEST_RPS BEST_CONNS BEST_LINE TAMPER OTHER RESP_BYTES RSS
CLK_TCK="$(getconf CLK_TCK)"

# sign_request TARGET SCENARIO URL: signs tenant-1's request now, sends it once
# and checks the answer; leaves it in $TMP/TARGET-SCENARIO.req for wrk.
sign_request() {
    python3 "$TMP/ddbbench.py" request "$3" "$TMP/$1-session.json" "$2" "$TMP/$1-$2.req" \
        >"$TMP/$1-$2.size" || die "$1: the signed $2 request failed"
}

# scenario_load TARGET SCENARIO URL PGID: every connection count, keeps the
# best. The request is re-signed (and sent once for real) before each run.
scenario_load() {
    local target=$1 scen=$2 url=$3 pg=$4 key="$2:$1" c rps
    for c in $CONNECTIONS; do
        quiet_wait
        sign_request "$target" "$scen" "$url"
        log "$target $scen: wrk -t$WRK_THREADS -c$c -d${DURATION}s (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
        wrk_run "$target-$scen" "$url/" "$HERE/wrk/signed.lua" "$c" "$pg" "$TMP/$target-$scen.req"
        print_run "$target $scen" "$c" "$RUN_LINE"
        rps="$(field "$RUN_LINE" rps)"
        if [[ -z "${BEST_RPS[$key]:-}" ]] || awk -v a="$rps" -v b="${BEST_RPS[$key]}" 'BEGIN{exit !(a>b)}'; then
            BEST_RPS[$key]=$rps
            BEST_CONNS[$key]=$c
            BEST_LINE[$key]=$RUN_LINE
        fi
    done
}

# checks TARGET URL: every request once (200, expected content), its size,
# and the two copies that must be refused.
checks() {
    local target=$1 url=$2 scen
    for scen in $SCENARIOS; do
        sign_request "$target" "$scen" "$url"
        RESP_BYTES["$scen:$target"]="$(cat "$TMP/$target-$scen.size")"
        python3 "$TMP/ddbbench.py" refused "$url" "$TMP/$target-session.json" "$scen" "$TMP/$target-$scen.req" \
            >"$TMP/$target-$scen.refused" || die "$target: the refused copies of $scen could not be sent"
        TAMPER["$scen:$target"]="$(sed -n 's/^tampered //p' "$TMP/$target-$scen.refused")"
        OTHER["$scen:$target"]="$(sed -n 's/^other //p' "$TMP/$target-$scen.refused")"
        log "$target $scen: 200, ${RESP_BYTES[$scen:$target]} bytes; tampered body -> ${TAMPER[$scen:$target]}; signed for tenant-2 -> ${OTHER[$scen:$target]}"
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
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:Query"],"Resource":"$TABLE_ARN","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["$TENANT"]}}}]}
EOF
    "${admin[@]}" aws --endpoint-url "$url" iam create-role --role-name "$ROLE_NAME" \
        --assume-role-policy-document "file://$TMP/trust.json" >/dev/null
    "${admin[@]}" aws --endpoint-url "$url" iam put-role-policy --role-name "$ROLE_NAME" \
        --policy-name own-partition --policy-document "file://$TMP/policy.json"
    log "podiam: creating table $TABLE with 204 items of 1 KiB (tenant-1 and tenant-2)"
    "${admin[@]}" python3 "$TMP/ddbbench.py" prepare "$url" -
    local arn
    arn="$(python3 "$TMP/ddbbench.py" session "$url" "$ROLE_ARN" "$TMP/token.jwt" "$TMP/podiam-session.json")"
    log "podiam: session $arn"
    checks podiam "$url"
    local scen
    for scen in $SCENARIOS; do
        [[ "${TAMPER[$scen:podiam]}" == "400 InvalidSignatureException" ]] ||
            die "podiam: the $scen request with a changed body got '${TAMPER[$scen:podiam]}', not 400 InvalidSignatureException"
        [[ "${OTHER[$scen:podiam]}" == "400 AccessDeniedException" ]] ||
            die "podiam: the $scen request for tenant-2 got '${OTHER[$scen:podiam]}', not 400 AccessDeniedException"
    done

    for scen in $SCENARIOS; do
        scenario_load podiam "$scen" "$url" "$pid"
    done
    if [[ "$CALIBRATE" == 1 ]]; then
        local c=${BEST_CONNS[getitem:podiam]:-16}
        quiet_wait
        log "podiam: calibration, GET /healthz with c=$c"
        wrk_run podiam-healthz "$url/healthz" "$HERE/wrk/get.lua" "$c" "$pid"
        print_run "podiam /healthz" "$c" "$RUN_LINE"
        CALIB_LINE=$RUN_LINE
        CALIB_CONNS=$c
    fi
    # Still correct after the load.
    for scen in $SCENARIOS; do
        sign_request podiam "$scen" "$url"
    done
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
    # moto's STS hands out a session for any token; use podiam's if there is one.
    [[ -s "$TMP/token.jwt" ]] || printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJiZW5jaCJ9.' >"$TMP/token.jwt"
    local arn
    arn="$(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
        python3 "$TMP/ddbbench.py" session "$url" "$ROLE_ARN" "$TMP/token.jwt" "$TMP/moto-session.json")"
    log "moto: session $arn"
    # With the session's keys: moto files tables under the account its keys
    # belong to (the role's, 000000000000, not moto's default).
    log "moto: creating table $TABLE with 204 items of 1 KiB (tenant-1 and tenant-2)"
    python3 "$TMP/ddbbench.py" prepare "$url" "$TMP/moto-session.json"
    checks moto "$url"
    local scen
    for scen in $SCENARIOS; do
        scenario_load moto "$scen" "$url" "$pid"
    done
    RSS[moto]="$(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
    stop_bg "$pid"
}

# ----------------------------------------------------------------- dynoxide

# Sets DYNOXIDE_BIN, installing dynoxide if there is none; returns 1 (and
# says why) if it cannot be had, so the run goes on without it.
locate_dynoxide() {
    if [[ -n "${DYNOXIDE_BIN:-}" ]]; then
        [[ -x "$DYNOXIDE_BIN" ]] || die "DYNOXIDE_BIN=$DYNOXIDE_BIN is not executable"
        return 0
    fi
    if command -v dynoxide >/dev/null 2>&1; then
        DYNOXIDE_BIN="$(command -v dynoxide)"
        return 0
    fi
    local tools="$ROOT/target/bench-tools" version
    if [[ -x "$tools/bin/dynoxide" ]]; then
        DYNOXIDE_BIN="$tools/bin/dynoxide"
        return 0
    fi
    # The version podiam embeds, so the two run the same engine.
    version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/vendor/dynoxide-rs/Cargo.toml" 2>/dev/null | head -n1)"
    version="${version:-3.2.0}"
    if ! command -v cargo >/dev/null 2>&1; then
        log "SKIPPING dynoxide: no DYNOXIDE_BIN, no dynoxide on PATH or in $tools/bin, and no cargo to install it"
        return 1
    fi
    log "dynoxide not found (DYNOXIDE_BIN unset, none on PATH or in $tools/bin):"
    log "installing it: cargo install --locked dynoxide-rs --version $version --root $tools (a few minutes, once)"
    if ! cargo install --locked dynoxide-rs --version "$version" --root "$tools" >&2; then
        log "SKIPPING dynoxide: cargo install failed (set DYNOXIDE_BIN, or leave dynoxide out of BENCH_TARGETS)"
        return 1
    fi
    DYNOXIDE_BIN="$tools/bin/dynoxide"
    [[ -x "$DYNOXIDE_BIN" ]] || { log "SKIPPING dynoxide: no $DYNOXIDE_BIN after cargo install"; return 1; }
}

bench_dynoxide() {
    local port url
    local -a db=()
    case "$DYNOXIDE_DB" in
        file) db=(--db-path "$TMP/dynoxide.sqlite3") ;;
        memory) ;;
        *) die "BENCH_DYNOXIDE_DB=$DYNOXIDE_DB (file|memory)" ;;
    esac
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    # `serve` is the HTTP server; no --db-path is an in-memory database.
    start_bg dynoxide "$TMP/dynoxide.log" "$DYNOXIDE_BIN" serve --host 127.0.0.1 --port "$port" "${db[@]}"
    local pid=$BG_PID
    # GET / is dynoxide's health check (200 "healthy: …").
    for _ in $(seq 1 300); do
        curl -sf --max-time 2 -o /dev/null "$url/" && break
        kill -0 "$pid" 2>/dev/null || { cat "$TMP/dynoxide.log" >&2; die "dynoxide exited during start-up"; }
        sleep 0.1
    done
    curl -sf --max-time 2 -o /dev/null "$url/" || { cat "$TMP/dynoxide.log" >&2; die "dynoxide did not come up on $url"; }
    log "dynoxide listening on $url ($DYNOXIDE_DB database)"
    # dynoxide checks no signature: sign with podiam's session if there is one
    # (the same request bytes as podiam's), else moto's, else made-up keys.
    if [[ -s "$TMP/podiam-session.json" ]]; then
        cp "$TMP/podiam-session.json" "$TMP/dynoxide-session.json"
    elif [[ -s "$TMP/moto-session.json" ]]; then
        cp "$TMP/moto-session.json" "$TMP/dynoxide-session.json"
    else
        printf '{"AccessKeyId":"ASIABENCHBENCHBENCH0","SecretAccessKey":"bench","SessionToken":"%s"}\n' \
            "$(head -c 580 /dev/urandom | base64 -w0)" >"$TMP/dynoxide-session.json"
    fi
    log "dynoxide: creating table $TABLE with 204 items of 1 KiB (tenant-1 and tenant-2)"
    python3 "$TMP/ddbbench.py" prepare "$url" "$TMP/dynoxide-session.json"
    checks dynoxide "$url"
    local scen
    for scen in $SCENARIOS; do
        scenario_load dynoxide "$scen" "$url" "$pid"
    done
    RSS[dynoxide]="$(awk '/VmHWM/{printf "%.0fMiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
    stop_bg "$pid"
}

# --------------------------------------------------------------------- main

need curl
need python3
need aws
python3 -c 'import boto3' 2>/dev/null || die "boto3 is required"
ensure_wrk
for s in $SCENARIOS; do
    case "$s" in getitem | putitem | query100) ;; *) die "unknown scenario $s (getitem|putitem|query100)" ;; esac
done
for t in $TARGETS; do
    case "$t" in podiam | moto | dynoxide) ;; *) die "unknown target $t (podiam|moto|dynoxide)" ;; esac
done
RUN_TARGETS=""
for t in $TARGETS; do
    case "$t" in
        podiam) locate_podiam ;;
        dynoxide)
            if ! locate_dynoxide; then
                SKIPPED="dynoxide (could not be installed; see above)"
                continue
            fi
            ;;
    esac
    RUN_TARGETS="$RUN_TARGETS $t"
done
[[ " $TARGETS " == *" dynoxide "* ]] || log "dynoxide: not in BENCH_TARGETS ($TARGETS), skipped"
[[ -n "${RUN_TARGETS// /}" ]] || die "no target left to run"
[[ -n "${PODIAM_BIN:-}" ]] && log "podiam binary: $PODIAM_BIN"
[[ -n "${DYNOXIDE_BIN:-}" ]] && log "dynoxide binary: $DYNOXIDE_BIN ($("$DYNOXIDE_BIN" --version 2>&1 | head -n1))"
log "wrk: $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), $WRK_THREADS thread(s), ${DURATION}s per run, connections: $CONNECTIONS"
log "machine: $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

for t in $RUN_TARGETS; do
    case "$t" in
        podiam) bench_podiam ;;
        moto) bench_moto ;;
        dynoxide) bench_dynoxide ;;
    esac
done

# ------------------------------------------------------------------- report

row() { # LABEL CONNS LINE EXTRA
    printf '%-18s %5s %10s %9s %9s %9s %8s %9s %7s %6s %6s %9s  %s\n' \
        "$1" "$2" "$(field "$3" rps)" "$(ms "$(field "$3" p50_us)")" "$(ms "$(field "$3" p90_us)")" \
        "$(ms "$(field "$3" p99_us)")" "$(field "$3" non2xx)" "$(sock_errs "$3")" \
        "$(field "$3" srv_cores)" "$(field "$3" wrk_cores)" "$(field "$3" other_cores)" \
        "$(field "$3" srv_us_per_req)" "$4"
}

echo
echo "DynamoDB over loopback: wrk -t${WRK_THREADS}, ${DURATION}s per run, best of connections {$CONNECTIONS}"
echo "$(nproc) cores shared by the server, wrk and anything else running (loadavg at end $(cut -d' ' -f1-3 /proc/loadavg))"
echo "getitem: GetItem, 1 KiB item; putitem: PutItem, 1 KiB item; query100: Query, 100 items of 1 KiB;"
echo "all SigV4-signed in headers with a session token; podiam checks a dynamodb:LeadingKeys policy on each"
[[ " $RUN_TARGETS " == *" dynoxide "* ]] && echo "dynoxide: $DYNOXIDE_DB database"
echo
printf '%-18s %5s %10s %9s %9s %9s %8s %9s %7s %6s %6s %9s  %s\n' \
    "scenario target" conns "req/s" p50 p90 p99 non-2xx sock-errs "cpu:srv" wrk other "srv us/req" "resp bytes, max RSS"
for scen in $SCENARIOS; do
    for t in $RUN_TARGETS; do
        [[ -n "${BEST_LINE[$scen:$t]:-}" ]] || continue
        row "$scen $t" "${BEST_CONNS[$scen:$t]}" "${BEST_LINE[$scen:$t]}" "${RESP_BYTES[$scen:$t]:-?} B, ${RSS[$t]:-?}"
    done
done
if [[ -n "$CALIB_LINE" ]]; then
    row "podiam /healthz" "$CALIB_CONNS" "$CALIB_LINE" "ceiling: no-op handler, same server+wrk+loopback"
fi
echo
for scen in $SCENARIOS; do
    for other in moto dynoxide; do
        if [[ -n "${BEST_RPS[$scen:podiam]:-}" && -n "${BEST_RPS[$scen:$other]:-}" ]]; then
            awk -v s="$scen" -v o="$other" -v p="${BEST_RPS[$scen:podiam]}" -v m="${BEST_RPS[$scen:$other]}" \
                'BEGIN{ printf "ratio podiam/%s, %s: %.2fx\n", o, s, (m > 0 ? p/m : 0) }'
        fi
    done
done
for scen in $SCENARIOS; do
    for t in $RUN_TARGETS; do
        [[ -n "${TAMPER[$scen:$t]:-}" ]] || continue
        echo "$scen -> $t: tenant-1 changed to tenant-2 in the signed body: ${TAMPER[$scen:$t]}; signed for tenant-2: ${OTHER[$scen:$t]}"
    done
done
[[ -z "$SKIPPED" ]] || echo "skipped: $SKIPPED"

busiest=0
for k in "${!BEST_LINE[@]}"; do
    busiest="$(awk -v a="$busiest" -v b="$(field "${BEST_LINE[$k]}" other_cores)" 'BEGIN{ print (b > a ? b : a) }')"
done
if awk -v b="$busiest" 'BEGIN{ exit !(b > 0.15) }'; then
    echo "WARNING: other processes used up to $busiest cores during these runs, so req/s (and the ratios) are"
    echo "         depressed and not comparable; compare 'srv us/req', or rerun with BENCH_WAIT_QUIET=180."
fi

if [[ -n "${BENCH_RESULTS_DIR:-}" ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    out="$BENCH_RESULTS_DIR/dynamodb.tsv"
    printf 'bench\ttarget\tconnections\trps\tp50_us\tp90_us\tp99_us\tnon2xx\tsocket_errors\tsrv_cores\twrk_cores\tother_cores\tsrv_us_per_req\tresp_bytes\n' >"$out"
    for scen in $SCENARIOS; do
        for t in $RUN_TARGETS; do
            l="${BEST_LINE[$scen:$t]:-}"
            [[ -n "$l" ]] || continue
            printf 'dynamodb-%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$t" "${BEST_CONNS[$scen:$t]}" \
                "$(field "$l" rps)" "$(field "$l" p50_us)" "$(field "$l" p90_us)" "$(field "$l" p99_us)" \
                "$(field "$l" non2xx)" "$(sock_errs "$l")" "$(field "$l" srv_cores)" "$(field "$l" wrk_cores)" \
                "$(field "$l" other_cores)" "$(field "$l" srv_us_per_req)" "${RESP_BYTES[$scen:$t]:-}" >>"$out"
        done
    done
    [[ -n "$CALIB_LINE" ]] && printf 'dynamodb-healthz\tpodiam\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' "$CALIB_CONNS" \
        "$(field "$CALIB_LINE" rps)" "$(field "$CALIB_LINE" p50_us)" "$(field "$CALIB_LINE" p90_us)" \
        "$(field "$CALIB_LINE" p99_us)" "$(field "$CALIB_LINE" non2xx)" "$(sock_errs "$CALIB_LINE")" \
        "$(field "$CALIB_LINE" srv_cores)" "$(field "$CALIB_LINE" wrk_cores)" "$(field "$CALIB_LINE" other_cores)" \
        "$(field "$CALIB_LINE" srv_us_per_req)" >>"$out"
    log "wrote $out"
fi
exit 0
