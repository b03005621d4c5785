-- wrk script: PUT a fresh key per request, 100-byte values.
-- env TARGET=muster|etcd selects the request shape.
local target = os.getenv("TARGET") or "muster"
local value = string.rep("v", 100)
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
	return ((s:gsub(".", function(x)
		local r, b = "", x:byte()
		for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
		return r
	end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
		if #x < 6 then return "" end
		local c = 0
		for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
		return b64chars:sub(c + 1, c + 1)
	end) .. ({ "", "==", "=" })[#s % 3 + 1])
end
local vb64 = b64(value)
local counter = 0
local thread_id = 0
setup = function(thread)
	thread:set("thread_id", thread_id)
	thread_id = thread_id + 1
end
request = function()
	counter = counter + 1
	local key = "bench/" .. thread_id .. "/" .. counter
	if target == "etcd" then
		local body = '{"key":"' .. b64(key) .. '","value":"' .. vb64 .. '"}'
		return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, body)
	end
	return wrk.format("PUT", "/v1/kv/" .. key, nil, value)
end
