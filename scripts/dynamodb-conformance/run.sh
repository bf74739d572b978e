#!/usr/bin/env bash
# The public DynamoDB conformance suite (tests/dynamodb-conformance, an unmodified
# copy of nubo-db/dynamodb-conformance; real DynamoDB is its ground truth) against
# `podiam serve`, signed with the admin key.
#
# Fails when a test fails that known-divergences.txt does not list (each entry there
# says why), or when a PartiQL or streams file was skipped (they skip themselves on
# an auth or unknown-operation error, which would hide failures).
#
# Environment:
#   PODIAM_BIN  the podiam binary (default: target/debug/podiam, built if missing)
#   DDBC_OUT    keep the work directory (node_modules, results.json, serve.log) here
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for t in node npm; do
  command -v "$t" >/dev/null 2>&1 || { echo "$t not found: the DynamoDB conformance suite needs Node.js" >&2; exit 1; }
done

bin="${PODIAM_BIN:-$root/target/debug/podiam}"
[[ -x "$bin" ]] || (cd "$root" && cargo build -q --locked --bin podiam)

work="${DDBC_OUT:-$root/target/dynamodb-conformance}"
mkdir -p "$work"
mkdir -p "$work/suite"
(cd "$root/tests/dynamodb-conformance" && tar cf - --exclude node_modules .) | (cd "$work/suite" && tar xf -)
echo "== npm ci (the suite's client: @aws-sdk/client-dynamodb, vitest)"
(cd "$work/suite" && npm ci --no-audit --no-fund --loglevel=error)

data="$work/data"
rm -rf "$data"
mkdir -p "$data"
"$bin" serve --listen 127.0.0.1:0 --data-dir "$data" --audit none 2>"$work/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | head -n1 | sed 's/listening on //')" || true
  [[ -n "$url" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "podiam did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
key_id="$(awk -F' *= *' '$1=="aws_access_key_id"{print $2; exit}' "$data/admin-credentials")"
secret="$(awk -F' *= *' '$1=="aws_secret_access_key"{print $2; exit}' "$data/admin-credentials")"

echo "== vitest against $url"
started=$(date +%s)
(cd "$work/suite" && DYNAMODB_ENDPOINT="$url" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID="$key_id" AWS_SECRET_ACCESS_KEY="$secret" \
  npx vitest run --reporter=dot --reporter=json --outputFile="$work/results.json" >"$work/vitest.log" 2>&1) || true
echo "   $(( $(date +%s) - started ))s"

python3 - "$work/results.json" "$here/known-divergences.txt" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
known = {l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")}
total = passed = skipped = 0
failed = []
for f in results["testResults"]:
    name = "tests/" + f["name"].split("/tests/", 1)[1]
    for a in f["assertionResults"]:
        total += 1
        full = " > ".join([name] + a["ancestorTitles"] + [a["title"]])
        if a["status"] == "passed":
            passed += 1
        elif a["status"] == "failed":
            failed.append(full)
        else:
            skipped += 1
unexpected = [t for t in failed if t not in known]
fixed = sorted(known - set(failed))
print(f"conformance: {passed}/{total} passed ({100.0 * passed / max(total, 1):.1f}%), "
      f"{len(failed)} failed ({len(failed) - len(unexpected)} known divergences), {skipped} skipped")
for t in fixed:
    print(f"  now passes (remove from known-divergences.txt): {t}")
for t in unexpected:
    print(f"  UNEXPECTED FAILURE: {t}")
if skipped:
    print("  tests were skipped: a PartiQL or streams probe failed", file=sys.stderr)
sys.exit(1 if unexpected or skipped or total < 600 else 0)
PY
