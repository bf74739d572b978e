#!/usr/bin/env bash
# Differential test: podiam-policy against @cloud-copilot/iam-simulate.
#
# Runs every case in crates/policy/tests/corpus/*.json through podiam-policy
# (the eval_cases example) and through iam-simulate (run.mjs), and fails when
# they disagree on a case that is not settled in known-differences.json.
#
# iam-simulate is AGPL-3.0: it is installed at run time into
# scripts/policy-differential/node_modules (gitignored) and used only as an
# external oracle process. Nothing of it is vendored.
#
# Skips (exit 0) when node or npm is not installed.
#
# Environment:
#   POLICY_DIFF_OUT   keep podiam.jsonl and oracle.jsonl in this directory
#   CARGO             cargo binary (default: cargo)
#   PODIAM_EVAL_CASES an already built eval_cases example binary to use
#                     instead of `cargo run` (e.g. target/debug/examples/eval_cases)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v node >/dev/null 2>&1; then
  echo "node not found: differential skipped"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: differential skipped"
  exit 0
fi

start=$(date +%s)

echo "== installing the oracle (npm ci in $here)"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

if [[ -n "${POLICY_DIFF_OUT:-}" ]]; then
  out="$POLICY_DIFF_OUT"
  mkdir -p "$out"
else
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi

shopt -s nullglob
corpus=("$root"/crates/policy/tests/corpus/*.json)
if [[ ${#corpus[@]} -eq 0 ]]; then
  echo "no corpus files under crates/policy/tests/corpus" >&2
  exit 1
fi

if [[ -n "${PODIAM_EVAL_CASES:-}" ]]; then
  echo "== podiam-policy ($PODIAM_EVAL_CASES)"
  "$PODIAM_EVAL_CASES" "${corpus[@]}" >"$out/podiam.jsonl"
else
  echo "== podiam-policy (cargo run -p podiam-policy --example eval_cases)"
  (cd "$root" && "${CARGO:-cargo}" run -q -p podiam-policy --example eval_cases -- "${corpus[@]}") \
    >"$out/podiam.jsonl"
fi

echo "== iam-simulate $(node -p "require('$here/node_modules/@cloud-copilot/iam-simulate/package.json').version")"
node "$here/run.mjs" "${corpus[@]}" >"$out/oracle.jsonl"

echo "== comparing"
status=0
node "$here/compare.mjs" "$out/podiam.jsonl" "$out/oracle.jsonl" "$here/known-differences.json" || status=$?

echo "== done in $(($(date +%s) - start))s"
exit "$status"
