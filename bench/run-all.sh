#!/usr/bin/env bash
# Runs every benchmark script in bench/ (bench/*.sh except this one), one
# after the other, so that no two loads compete for the 2 cores.
#
# Usage: bench/run-all.sh [NAME-FILTER]
#   NAME-FILTER  optional substring; only scripts whose file name contains it run
#                (e.g. `bench/run-all.sh agent` runs only bench/agent.sh, the
#                node agent's cached hit and eks-auth miss; `replicas` runs
#                bench/replicas.sh, 1 and 2 replicas on a private PostgreSQL,
#                which skips itself, exit 0, when PostgreSQL can't be had;
#                `dynamodb` runs bench/dynamodb.sh, GetItem, PutItem and a
#                100-item Query against podiam, moto and dynoxide, which
#                installs dynoxide under target/bench-tools if it is missing).
# Each script's environment knobs (BENCH_DURATION, BENCH_CONNECTIONS,
# PODIAM_BIN, ...) pass through. Results go to stdout; if BENCH_RESULTS_DIR is
# unset it is set to a fresh bench-results.XXXXXX dir under $TMPDIR (or /tmp) and
# each script may drop a TSV there. Exits non-zero if any script failed, after
# running the others.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
filter="${1:-}"
self="$(basename "${BASH_SOURCE[0]}")"
export BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bench-results.XXXXXX")}"

failed=()
ran=0
shopt -s nullglob
for script in "$HERE"/*.sh; do
    name="$(basename "$script")"
    [[ "$name" == "$self" ]] && continue
    [[ -z "$filter" || "$name" == *"$filter"* ]] || continue
    ran=$((ran + 1))
    echo "=== $name ==="
    if bash "$script"; then
        echo "=== $name: ok ==="
    else
        rc=$?
        echo "=== $name: FAILED (exit $rc) ==="
        failed+=("$name")
    fi
    echo
done

echo "ran $ran benchmark script(s); results in $BENCH_RESULTS_DIR"
if ((${#failed[@]})); then
    echo "failed: ${failed[*]}"
    exit 1
fi
