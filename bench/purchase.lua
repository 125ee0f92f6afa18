-- wrk script: the load of bench/loadgen.py from C, so the client takes little of the two
-- cores it shares with the server and PostgreSQL. One thread (the order counter is per
-- thread), keep-alive connections, each sending its next request when the last is answered.
-- Configured by the environment: BENCH_KIND (graphql-purchase | graphql-rules |
-- plain-purchase), BENCH_PROGRAM, BENCH_TOKEN, BENCH_CUSTOMERS, BENCH_RUN, BENCH_OFFSET.
-- Prints one JSON line.
--
-- graphql-rules is the load of the rules on/off figure (bench/rules.py): each request a
-- buyer after the last one's (BENCH_OFFSET: where this window starts), so first purchases
-- keep qualifying referees and raising their referrers to milestones, and amounts in eight
-- steps of 25,000, one of them under the rules' minimum purchase.

local kind = os.getenv("BENCH_KIND")
local program = os.getenv("BENCH_PROGRAM") or ""
local token = os.getenv("BENCH_TOKEN") or ""
local customers = tonumber(os.getenv("BENCH_CUSTOMERS"))
local run = os.getenv("BENCH_RUN")
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local query = "mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) "
  .. "{ purchase { id } rewards { amount } userErrors { code } } }"

local counter = 0
errors = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  local k = counter
  counter = counter + 1
  -- The seeded externalIds are c00000001..cNNNNNNNN: spread the buyers over all of them.
  local customer = (k % 20000) * 7919 % customers + 1
  local amount = 150000
  if kind == "graphql-rules" then
    customer = (offset + k) * 7919 % customers + 1
    amount = 25000 * (1 + k % 8)
  end
  local body
  if kind == "graphql-purchase" or kind == "graphql-rules" then
    body = string.format(
      '{"query":"%s","variables":{"i":{"programId":"%s","customerExternalId":"c%08d",'
        .. '"orderId":"%s-%d","amount":"%d"}}}',
      query, program, customer, run, k, amount)
  else
    body = string.format(
      '{"customer_id":%d,"order_id":"%s-%d","amount":"150000"}', customer, run, k)
  end
  return wrk.format("POST", nil, nil, body)
end

function response(status, headers, body)
  -- GraphQL answers 200 with "errors" or userErrors when it refuses.
  if status ~= 200 or body:find('"errors"', 1, true) or body:find('"code"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests": %d, "errors": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, '
      .. '"p99_ms": %.2f}\n',
    summary.requests, failed, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
