#!/usr/bin/env python3
"""Inclusive CPU shares of podiam's STS hot path, from a perf profile with
call stacks (`perf record --call-graph dwarf`).

Usage: perf script -i perf.data -F comm,tid,ip,sym | bench/perf-breakdown.py [-]
       bench/perf-breakdown.py FILE

Each figure is the share of samples whose stack contains a frame matching
the pattern. Rows overlap, because they are inclusive. sts-assume.sh runs
this script with BENCH_PERF=dwarf.
"""
import re
import sys

ROWS = [
    ("kernel (syscalls, softirq)", r"entry_SYSCALL|do_syscall_64|asm_"),
    ("  writev: response send (loopback)", r"__GI___writev|do_writev"),
    ("  recvfrom: request read", r"__libc_recv|tcp_recvmsg"),
    ("pipeline::run (a service's request)", r"podiam_auth::pipeline::run"),
    ("  QueryParams (form decode)", r"QueryParams"),
    ("  audit: redact + note_request", r"podiam_auth::audit::note_request|podiam_auth::audit::redact"),
    ("  Sts::answer", r"podiam_sts::Sts::answer"),
    ("    RS256 verify_signature", r"UnverifiedToken::verify_signature"),
    ("    token parse (base64 + JSON)", r"UnverifiedToken::parse"),
    ("    sessions::issue / mint_session", r"podiam_auth::sessions::issue|podiam_auth::sessions::mint_session"),
    ("      Sealer::seal", r"Sealer::seal"),
    ("    trust: Authorizer::context", r"Authorizer::context|RequestContextBuilder::build"),
    ("    trust: policy evaluate", r"podiam_policy::eval"),
    ("    role / provider lookup (store)", r"lookup_role|role_by_name|find_provider|podiam_store"),
    ("    XML render", r"podiam_core::xml"),
    ("pipeline::audited: audit line + metrics", r"podiam_auth::pipeline::audited|Auditor::emit|RequestMetrics::observe"),
    ("request_id", r"podiam_core::ids::request_id"),
    ("SystemRandom / RAND_bytes", r"SystemRandom|RAND_bytes"),
    ("hyper h1 parse/encode", r"hyper::proto::h1::role"),
    ("malloc/free", r"malloc|_int_free|cfree|realloc"),
    ("alloc::fmt::format", r"alloc::fmt::format"),
    ("serde_json", r"serde_json"),
    ("tracing", r"tracing_core|tracing_subscriber"),
]


def samples(lines):
    cur = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                yield cur
            cur = []
        elif line[0] in "\t ":
            parts = line.strip().split(" ", 1)
            cur.append(parts[1] if len(parts) > 1 else parts[0])
        else:  # header line of a new sample
            if cur:
                yield cur
            cur = []
    if cur:
        yield cur


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "-"
    f = sys.stdin if src == "-" else open(src, encoding="utf-8", errors="replace")
    all_samples = list(samples(f))
    n = len(all_samples)
    if n == 0:
        print("no samples (was perf recorded with --call-graph?)")
        return 1
    print(f"{n} samples; inclusive share of the server's CPU:")
    for name, pat in ROWS:
        r = re.compile(pat)
        c = sum(1 for s in all_samples if any(r.search(fr) for fr in s))
        print(f"  {name:38s} {100 * c / n:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
