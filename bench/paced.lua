-- Rate-limited load for wrk: every connection waits 10 ms before each request, so
-- 10 connections (-c 10) send a little under 1,000 requests per second in all.
delay = function()
  return 10
end
