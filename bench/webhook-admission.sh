#!/usr/bin/env bash
# Admission latency (p50/p99) and throughput of `podiam webhook` for a typical
# pod over loopback TLS (keep-alive HTTP/1.1, the way kube-apiserver calls it).
#   bench/webhook-admission.sh [seconds=10] [concurrency=16]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p podiam-webhook --example admission_bench -- "${1:-10}" "${2:-16}"
