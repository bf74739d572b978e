-- wrk script: unsigned STS AssumeRoleWithWebIdentity, a different token on
-- every request (the distinct-token scenario: no verification remembered).
--
-- Environment:
--   BENCH_BODY_FILE    one complete form-urlencoded request body per line;
--                      requests cycle through them in order. With more
--                      lines per wrk thread than podiam remembers verified
--                      tokens (65,536), every request pays a full signature
--                      verification.
--   BENCH_WRK_THREADS  wrk's -t: each thread takes every t-th line, so no
--                      two threads send the same token.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local path = os.getenv("BENCH_BODY_FILE")
if not path then
  error("BENCH_BODY_FILE is not set")
end
local threads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local requests = {}
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
  ["User-Agent"] = "podiam-bench/wrk",
}
function init(args)
  local n = 0
  for line in io.lines(path) do
    if #line > 0 then
      if n % threads == (id or 0) then
        requests[#requests + 1] = wrk.format("POST", "/", headers, line)
      end
      n = n + 1
    end
  end
  if #requests == 0 then
    error("no request bodies in " .. path)
  end
end

local i = 0
function request()
  i = i + 1
  if i > #requests then
    i = 1
  end
  return requests[i]
end
