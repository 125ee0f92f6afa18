-- wrk script: a shop's traffic, each request drawn at random: READ_SHARE customer dashboards
-- (bench/dashboard.graphql with the viewer's CUSTOMER token; on the floor app,
-- GET /dashboard?customer=ID), the rest recordPurchase writes (as bench/purchase.lua).
-- One thread, keep-alive connections, closed loop. wrk measures one latency histogram for
-- all requests: each request carries an X-Request-ID ("d17", "w18") that both servers send
-- back, so the script times dashboards and writes apart on a monotonic clock.
-- Configured by the environment: BENCH_KIND (graphql-mixed | plain-mixed), BENCH_PROGRAM,
-- BENCH_TOKEN (the partner's, for writes), BENCH_VIEWERS (a file of "customer_id token"
-- lines), BENCH_CUSTOMERS, BENCH_RUN, BENCH_READ_SHARE (default 0.8). Prints one JSON line.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *now);
]]
local CLOCK_MONOTONIC = 1
local now_spec = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_spec)
  return tonumber(now_spec.tv_sec) * 1000 + tonumber(now_spec.tv_nsec) / 1e6
end

local kind = os.getenv("BENCH_KIND")
local program = os.getenv("BENCH_PROGRAM") or ""
local token = os.getenv("BENCH_TOKEN") or ""
local customers = tonumber(os.getenv("BENCH_CUSTOMERS"))
local run = os.getenv("BENCH_RUN")
local read_share = tonumber(os.getenv("BENCH_READ_SHARE") or "0.8")
local graphql = kind == "graphql-mixed"

local function json_string(text)
  return '"' .. text:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('\n', '\\n') .. '"'
end

local purchase = "mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) "
  .. "{ purchase { id } rewards { amount } userErrors { code } } }"
local dashboard_body
do
  local file = assert(io.open("bench/dashboard.graphql"))
  dashboard_body = '{"query":' .. json_string(file:read("*a")) .. '}'
  file:close()
end

local viewers = {}
do
  local file = assert(io.open(os.getenv("BENCH_VIEWERS")))
  for line in file:lines() do
    local id, viewer_token = line:match("^(%d+) (%S+)$")
    if id then
      table.insert(viewers, { id = id, token = viewer_token })
    end
  end
  file:close()
end

local counter = 0
local started = {}
local latencies = { d = {}, w = {} }
errors = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(2026)
end

local function read_request(id)
  local viewer = viewers[math.random(#viewers)]
  if graphql then
    return wrk.format("POST", "/graphql", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. viewer.token,
      ["X-Request-ID"] = id,
    }, dashboard_body)
  end
  return wrk.format("GET", "/dashboard?customer=" .. viewer.id, { ["X-Request-ID"] = id })
end

local function write_request(id, k)
  -- The seeded externalIds are c00000001..cNNNNNNNN: spread the buyers over all of them.
  local customer = (k % 20000) * 7919 % customers + 1
  local headers = { ["Content-Type"] = "application/json", ["X-Request-ID"] = id }
  if graphql then
    headers["Authorization"] = "Bearer " .. token
    return wrk.format("POST", "/graphql", headers, string.format(
      '{"query":"%s","variables":{"i":{"programId":"%s","customerExternalId":"c%08d",'
        .. '"orderId":"%s-%d","amount":"150000"}}}',
      purchase, program, customer, run, k))
  end
  return wrk.format("POST", "/purchase", headers, string.format(
    '{"customer_id":%d,"order_id":"%s-%d","amount":"150000"}', customer, run, k))
end

function request()
  local k = counter
  counter = counter + 1
  local id
  local text
  if math.random() < read_share then
    id = "d" .. k
    text = read_request(id)
  else
    id = "w" .. k
    text = write_request(id, k)
  end
  started[id] = now_ms()
  return text
end

function response(status, headers, body)
  local id = headers["x-request-id"] or headers["X-Request-ID"]
  local begun = id and started[id]
  if not begun then
    errors = errors + 1
    return
  end
  started[id] = nil
  local which = id:sub(1, 1)
  table.insert(latencies[which], now_ms() - begun)
  -- GraphQL answers 200 with "errors" or, for a refused write, userErrors with a code.
  if status ~= 200 or body:find('"errors"', 1, true)
    or (which == "w" and body:find('"code"', 1, true)) then
    errors = errors + 1
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then
    return 0
  end
  return sorted[math.max(1, math.ceil(#sorted * p / 100))]
end

function done(summary, latency, requests)
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
  end
  local seconds = summary.duration / 1e6
  -- The thread's own tables: wrk runs done() in the main Lua state, so ask the thread.
  local thread = threads[1]
  local reads = thread:get("read_latencies")
  local writes = thread:get("write_latencies")
  table.sort(reads)
  table.sort(writes)
  io.write(string.format(
    '{"requests": %d, "errors": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, '
      .. '"p99_ms": %.2f, "reads": %d, "read_p50_ms": %.2f, "read_p99_ms": %.2f, '
      .. '"writes": %d, "write_p50_ms": %.2f, "write_p99_ms": %.2f}\n',
    summary.requests, failed, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    #reads, percentile(reads, 50), percentile(reads, 99),
    #writes, percentile(writes, 50), percentile(writes, 99)))
end

-- Read by done() through thread:get (globals of the thread's state).
read_latencies = latencies.d
write_latencies = latencies.w
