-- wrk script: read one existing key (bench/get), default consistency.
local target = os.getenv("TARGET") or "muster"
request = function()
	if target == "etcd" then
		-- "YmVuY2gvZ2V0" is base64("bench/get"); linearizable by default
		return wrk.format("POST", "/v3/kv/range", { ["Content-Type"] = "application/json" },
			'{"key":"YmVuY2gvZ2V0"}')
	end
	return wrk.format("GET", "/v1/kv/bench/get")
end
