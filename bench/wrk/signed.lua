-- wrk script: replays one pre-signed HTTP request (method, path with query,
-- headers and, optionally, a body) on every connection. Used for the
-- header-signed S3 ListObjectsV2 and the DynamoDB calls (a signed POST with a
-- JSON body): the request was signed (SigV4 in the Authorization header, with
-- the session token) by botocore moments before the run and sent once for
-- real; replaying the identical request is valid SigV4 for as long as its
-- X-Amz-Date is within the server's 15-minute skew window.
--
-- Environment:
--   BENCH_REQUEST_FILE  first line "METHOD /path?query", then one
--                       "Name: value" header per line. Host comes from the
--                       URL on wrk's command line (the signed host). If an
--                       empty line follows the headers, everything after it,
--                       byte for byte, is the body (its SHA-256 is part of
--                       the signature). Content-Length is always wrk's own.
--
-- No response() callback, as in the other scripts: wrk counts statuses itself.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local path = os.getenv("BENCH_REQUEST_FILE")
if not path then
  error("BENCH_REQUEST_FILE is not set")
end
local f = assert(io.open(path, "rb"))
local first = f:read("*l")
local method, target = first:match("^(%u+) (%S+)$")
if not method then
  error("bad request line in " .. path .. ": " .. tostring(first))
end
wrk.method = method
wrk.path = target
while true do
  local line = f:read("*l")
  if line == nil then
    break
  end
  if line == "" then
    wrk.body = f:read("*a")
    break
  end
  local k, v = line:match("^([^:]+):%s*(.-)%s*$")
  if k and k:lower() ~= "content-length" then
    wrk.headers[k] = v
  end
end
f:close()
