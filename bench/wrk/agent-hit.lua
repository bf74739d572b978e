-- wrk script: GET /v1/credentials on the node agent with one pod's token in
-- the Authorization header (raw token, as the SDKs send the contents of
-- AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). After the first request every
-- request is a cache hit.
--
-- Environment:
--   BENCH_TOKEN_FILE  file holding the pod's service-account token (a JWT)

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local path = os.getenv("BENCH_TOKEN_FILE")
if not path then
  error("BENCH_TOKEN_FILE is not set")
end
local f = assert(io.open(path, "rb"))
local token = f:read("*a"):gsub("%s+$", "")
f:close()

wrk.method = "GET"
wrk.headers["Authorization"] = token
wrk.headers["User-Agent"] = "podiam-bench/wrk"
