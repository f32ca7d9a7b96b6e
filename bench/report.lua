-- wrk script: the core's report, a different turn every request.
local counter = 0
local nonce = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000))
local base_ms = os.time() * 1000
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_SECRET")
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local body = string.format(
    '{"macAddress":"a0:85:e3:00:00:%02x","sessionId":"bench-%s-%d","chatType":%d,' ..
    '"content":"第%d句 benchmark turn %s","audioBase64":null,"reportTime":%d}',
    counter % 50, nonce, math.floor(counter / 10), 1 + counter % 2, counter, nonce, base_ms + counter)
  return wrk.format(nil, "/xiaozhi/agent/chat-history/report", nil, body)
end

local shown = false
response = function(status, headers, body)
  if status ~= 200 and not shown then
    shown = true
    io.stderr:write("first failure: " .. status .. " " .. body .. "\n")
  end
end
