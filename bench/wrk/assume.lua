-- wrk script: unsigned STS AssumeRoleWithWebIdentity, the same request on
-- every connection.
--
-- Environment:
--   BENCH_BODY_FILE  file holding the complete form-urlencoded request body
--                    (Action=AssumeRoleWithWebIdentity&...&WebIdentityToken=JWT)
--
-- No response() callback is defined on purpose: it would make wrk build a
-- Lua table per response and cost the load generator CPU that it shares
-- with the server under test. Status codes are counted by wrk itself.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local path = os.getenv("BENCH_BODY_FILE")
if not path then
  error("BENCH_BODY_FILE is not set")
end
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()
body = body:gsub("%s+$", "")

wrk.method = "POST"
wrk.path = "/"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
wrk.headers["User-Agent"] = "podiam-bench/wrk"
