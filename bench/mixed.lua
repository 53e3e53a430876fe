-- Workload B for wrk: POSTs with JSON bodies and GETs, both answered by nginx with
-- chunked JSON (SSI, see nginx.conf.in). The requests are built once, then cycled.
local reqs = {}
local n = 0

init = function(args)
  local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json",
                    ["User-Agent"] = "bench-mixed/1", ["X-Request-Source"] = "wrk" }
  for i = 1, 64 do
    local lines = {}
    for j = 1, 8 do
      lines[#lines + 1] = string.format(
        '{"sku":"SKU-%04d","qty":%d,"note":"line %d of order %d, gift wrap: no"}', i * 8 + j, j, j, i)
    end
    local body = string.format('{"customer":"cust-%05d","currency":"EUR","lines":[%s]}',
      i * 37, table.concat(lines, ","))
    reqs[#reqs + 1] = wrk.format("POST", "/api/orders", headers, body)
    reqs[#reqs + 1] = wrk.format("GET", string.format("/api/orders/%d?expand=items&page=%d", i, i % 4),
      { ["Accept"] = "application/json", ["User-Agent"] = "bench-mixed/1" })
  end
end

request = function()
  n = n % #reqs + 1
  return reqs[n]
end
