-- wrk script: PUT /v1/agent/service/register, a fresh service instance
-- per request.  Arguments after "--": TOTAL THREADS DIR, THREADS being
-- the -t given to wrk.  Each thread registers TOTAL / THREADS instances
-- (instance N is "bulk-N" of service "bulk-svc-(N % 100)"); once all
-- its instances are answered it writes the time (date +%s.%N) to
-- DIR/done-<thread> and stops.  wrk itself always runs for its whole
-- -d, so the caller times the run from those files and then ends wrk.
-- A thread that has sent its share repeats its last registration (the
-- agent treats that as an update of the same instance) meanwhile.
local threads = {}
local nthreads = 0

setup = function(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
	table.insert(threads, thread)
end

init = function(args)
	sent, answered, errors = 0, 0, 0
	share = math.floor(tonumber(args[1]) / tonumber(args[2]))
	dir = args[3]
	tid = wrk.thread:get("tid")
	base = tid * share
	-- wrk calls thread 0's request() once after init to inspect it
	-- (script_verify_request) and never sends that one.
	verify = tid == 0
end

local function body(n)
	return string.format('{"ID":"bulk-%d","Name":"bulk-svc-%d",' ..
	    '"Port":%d,"Tags":["bench","v1"],"Meta":{"n":"%d"}}',
	    n, n % 100, 10000 + n % 50000, n)
end

request = function()
	if verify then
		verify = false
	elseif sent < share then
		sent = sent + 1
	end
	return wrk.format("PUT", "/v1/agent/service/register",
	    { ["Content-Type"] = "application/json" },
	    body(base + math.max(sent, 1) - 1))
end

response = function(status, headers, b)
	answered = answered + 1
	if status ~= 200 then
		errors = errors + 1
	end
	if answered == share then
		local f = io.popen("date +%s.%N")
		local t = f:read("*l")
		f:close()
		f = io.open(dir .. "/done-" .. tid, "w")
		f:write(t, " ", errors, "\n")
		f:close()
		wrk.thread:stop()
	end
end
