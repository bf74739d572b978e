-- Shared by the wrk scripts in this folder (loaded with dofile): prints one
-- machine-readable line at the end of a run, which the bench scripts parse:
--   BENCH_RESULT requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N
--                max_us=N non2xx=N connect_err=N read_err=N write_err=N timeout_err=N
-- `non2xx` is wrk's count of responses with status > 399 (wrk's own
-- "Non-2xx or 3xx responses" line is printed above it as well).
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeout_err=%d\n",
    summary.requests, summary.duration, summary.requests / secs,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
