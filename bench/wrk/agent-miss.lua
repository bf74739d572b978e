-- wrk script: GET /v1/credentials on the node agent, each request with the
-- next of many distinct pod tokens (one per line in BENCH_TOKENS_FILE),
-- round robin. Every token belongs to a different pod (different pod uid),
-- so each is a different cache key; with more tokens than the agent's cache
-- holds (LRU, 2000 entries), cycling through them in order means the token
-- asked for has always been evicted: every request is a miss, i.e. a full
-- eks-auth AssumeRoleForPodIdentity round trip. bench/agent.sh checks this
-- with the agent's /metrics (cache hit/miss counters) around the run.
--
-- The requests are formatted once, in init(); request() only picks the next
-- one, so the load generator's per-request cost stays close to the hit run's.
--
-- Environment:
--   BENCH_TOKENS_FILE  file with one JWT per line
-- Use one wrk thread (-t1): each thread has its own Lua state and would
-- start the cycle at the same token.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local path = os.getenv("BENCH_TOKENS_FILE")
if not path then
  error("BENCH_TOKENS_FILE is not set")
end
local tokens = {}
for line in io.lines(path) do
  line = line:gsub("%s+$", "")
  if #line > 0 then
    tokens[#tokens + 1] = line
  end
end
if #tokens == 0 then
  error("no tokens in " .. path)
end

local reqs = {}
local i = 0

function init(args)
  for n, t in ipairs(tokens) do
    reqs[n] = wrk.format("GET", nil, {
      ["Host"] = wrk.headers["Host"],
      ["Authorization"] = t,
      ["User-Agent"] = "podiam-bench/wrk",
    })
  end
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
