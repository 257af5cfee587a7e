-- For benchmarks/run.py: wrk (Debian's package, a native load generator) reports its figures
-- as one JSON line. A form post gets its method, body and headers from the environment
-- (WRK_METHOD, WRK_BODY, WRK_COOKIE, WRK_CONTENT_TYPE), which run.py sets after fetching the
-- form's CSRF cookie and token.
local method = os.getenv("WRK_METHOD")
if method and method ~= "" then
  wrk.method = method
  wrk.body = os.getenv("WRK_BODY")
  wrk.headers["Cookie"] = os.getenv("WRK_COOKIE")
  wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE")
end

-- With a count after the URL (`wrk ... URL -- COUNT`: the tests' load), each thread stops after
-- COUNT answers and says so on a line of its own ("stopped"), on which localazure/load.py
-- interrupts wrk (which otherwise waits out --duration) for its report: the same work on a
-- fast machine as on a slow one. Without a count nothing reads the answers (wrk is quickest).
function init(args)
  local count = tonumber(args[1])
  if count then
    local answered = 0
    function response()
      answered = answered + 1
      if answered == count then
        io.write("stopped\n")
        io.flush()
        wrk.thread:stop()
      end
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local failed = errors.connect + errors.read + errors.write + errors.timeout + errors.status
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, failed))
end
