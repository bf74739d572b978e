-- wrk script: plain GET of the URL given on the command line (used for the
-- /healthz calibration run: what the server + wrk + loopback can do when
-- the handler does nothing). Prints the same BENCH_RESULT line.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

wrk.headers["User-Agent"] = "podiam-bench/wrk"
