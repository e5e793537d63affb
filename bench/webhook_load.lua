-- wrk script for bench/webhook_load.py: POSTs pre-signed Twilio webhooks, one request per line of
-- the file given after `--` (path TAB form body TAB X-Twilio-Signature), each thread taking every
-- n-th line so no CallSid is sent twice. Counts non-200 answers, answers holding a <Dial>, and
-- answers holding an <Enqueue> (the route step's conference path).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  reqs = {}
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == tid then
      local path, body, sig = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)")
      table.insert(reqs, {path, body, sig})
    end
    n = n + 1
  end
  i, bad, dials, enqueues, wrapped = 0, 0, 0, 0, 0
end

function request()
  i = i + 1
  if i > #reqs then
    i = 1
    wrapped = wrapped + 1
  end
  local r = reqs[i]
  return wrk.format("POST", r[1], {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r[3],
  }, r[2])
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif body:find("<Dial", 1, true) then
    dials = dials + 1
  elseif body:find("<Enqueue", 1, true) then
    enqueues = enqueues + 1
  end
end

function done(summary, latency, requests)
  local b, d, e, w = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    d = d + t:get("dials")
    e = e + t:get("enqueues")
    w = w + t:get("wrapped")
  end
  io.write(string.format("LUA bad=%d dials=%d enqueues=%d wrapped=%d\n", b, d, e, w))
  io.write(string.format("LAT p50=%.3f p99=%.3f\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
