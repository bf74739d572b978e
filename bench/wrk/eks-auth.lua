-- wrk script: eks-auth AssumeRoleForPodIdentity sent straight to podiam, a
-- request SigV4-signed once by bench/agent.sh and replayed (the signature
-- stays valid for the few seconds of the run). This is the server's share
-- of an agent cache miss, without the agent.
--
-- Environment:
--   BENCH_BODY_FILE     the JSON body ({"token": "<JWT>"})
--   BENCH_HEADERS_FILE  the signed headers, one "Name: value" per line

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local function slurp(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local body_path = os.getenv("BENCH_BODY_FILE")
local headers_path = os.getenv("BENCH_HEADERS_FILE")
if not body_path or not headers_path then
  error("BENCH_BODY_FILE and BENCH_HEADERS_FILE must be set")
end

wrk.method = "POST"
wrk.body = slurp(body_path):gsub("%s+$", "")
for line in io.lines(headers_path) do
  local k, v = line:match("^([^:]+):%s*(.-)%s*$")
  if k and k:lower() ~= "host" and k:lower() ~= "content-length" then
    wrk.headers[k] = v
  end
end
wrk.headers["User-Agent"] = "podiam-bench/wrk"
