-- wrk script: POST pre-generated Alertmanager webhook bodies, rotating through them.
--
--   wrk -t2 -c64 -d20s --latency -s bench/wrk/rotate.lua URL -- LIST [TOKEN]
--
-- LIST is a text file naming one JSONL file per wrk thread (thread i reads line i+1,
-- wrapping); each JSONL line is one compact JSON body. Every thread keeps its own stream,
-- so a body and its later duplicate go out in the order bench/run.py wrote them.
-- TOKEN, when given, is sent as "Authorization: Bearer TOKEN".

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Alertmanager/0.25.0"

local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local bodies = {}
local n = 0
local i = 0

function init(args)
   local list = args[1]
   if list == nil then
      error("rotate.lua: pass the body list file after --")
   end
   if args[2] ~= nil and args[2] ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. args[2]
   end
   local files = {}
   for line in io.lines(list) do
      if line ~= "" then
         files[#files + 1] = line
      end
   end
   if #files == 0 then
      error("rotate.lua: no body files listed in " .. list)
   end
   local tid = id or 0
   local path = files[(tid % #files) + 1]
   for line in io.lines(path) do
      if line ~= "" then
         n = n + 1
         bodies[n] = line
      end
   end
   if n == 0 then
      error("rotate.lua: no bodies in " .. path)
   end
end

function request()
   i = i + 1
   if i > n then
      i = 1
   end
   return wrk.format(nil, nil, nil, bodies[i])
end
