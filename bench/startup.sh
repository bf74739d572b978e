#!/usr/bin/env bash
# Start-up cost: `podiam serve` on a fresh data dir until its first answer
# (GET /healthz 200), the same on a restart (data dir already made), and the
# idle RSS once it has answered. Issue 16's targets: a fresh first start
# <= 50 ms to the first answer, idle RSS <= 30 MB.
#
# Knobs: PODIAM_BIN (default target/release/podiam), PODIAM_BUILD=1 (build it
# first), BENCH_RUNS (default 10 fresh starts and 10 restarts), BENCH_RESULTS_DIR
# (writes startup.tsv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${PODIAM_BIN:-$ROOT/target/release/podiam}"
RUNS="${BENCH_RUNS:-10}"
if [[ "${PODIAM_BUILD:-0}" == 1 ]]; then
    (cd "$ROOT" && cargo build --release --locked >&2)
fi
[[ -x "$BIN" ]] || { echo "no podiam binary at $BIN (PODIAM_BUILD=1 builds it)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

# The timing runs in one python process: it spawns the server and polls its
# port with raw HTTP requests, so no client process start is counted.
exec python3 - "$BIN" "$RUNS" "${BENCH_RESULTS_DIR:-}" <<'PY'
import os, shutil, socket, statistics, subprocess, sys, tempfile, time

binary, runs, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def healthy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return c.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False

def start(data):
    """Milliseconds from spawn to the first 200, and the running process."""
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not healthy(port):
        if p.poll() is not None:
            sys.exit(f"podiam serve exited with {p.returncode}")
        if time.perf_counter() - t0 > 30:
            p.kill()
            sys.exit("podiam serve did not answer within 30 s")
        time.sleep(0.0005)
    return (time.perf_counter() - t0) * 1000, p

def stop(p):
    p.terminate()
    p.wait(timeout=10)

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

fresh, restart, rss = [], [], []
for _ in range(runs):
    tmp = tempfile.mkdtemp(prefix="podiam-startup.")
    data = os.path.join(tmp, "data")
    try:
        ms, p = start(data)
        fresh.append(ms)
        time.sleep(2)
        rss.append(rss_kib(p.pid))
        stop(p)
        ms, p = start(data)
        restart.append(ms)
        stop(p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

med = statistics.median
print(f"podiam serve start-up, {runs} runs each (loadavg {os.getloadavg()[0]:.2f})")
print(f"  fresh data dir -> first answer: median {med(fresh):.1f} ms, max {max(fresh):.1f} ms   (target <= 50 ms)")
print(f"  restart        -> first answer: median {med(restart):.1f} ms, max {max(restart):.1f} ms")
print(f"  idle RSS 2 s after the first answer: median {med(rss) / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB   (target <= 30 MB)")
if results:
    with open(os.path.join(results, "startup.tsv"), "w") as f:
        f.write("measure\tmedian\tmax\n")
        f.write(f"fresh_ms\t{med(fresh):.1f}\t{max(fresh):.1f}\n")
        f.write(f"restart_ms\t{med(restart):.1f}\t{max(restart):.1f}\n")
        f.write(f"idle_rss_kib\t{med(rss)}\t{max(rss)}\n")
PY
