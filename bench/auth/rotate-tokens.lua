-- wrk script of bench/auth/run.mjs: every request carries the next token of a
-- file, round robin, as `Authorization: Bearer …`.
--
--   wrk ... -s rotate-tokens.lua URL -- TOKENS_FILE PATH [CURSOR_FILE]
--
-- With CURSOR_FILE, the position is saved every SAVE_EVERY requests and the
-- next run starts SAVE_EVERY tokens past the saved one: a run never starts on
-- tokens the previous run of the same file has just put in the gateway's
-- verified-token cache. (Round robin over more tokens than the cache holds,
-- 10,000 per worker, is then a miss on every request.)
-- Only for `wrk -t1`: each thread has its own Lua state and would keep its own cursor.

local SAVE_EVERY = 256

local tokens = {}
local requests = {}
local n = 0
local i = 0
local path = "/"
local cursorFile = nil

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      n = n + 1
      tokens[n] = line
    end
  end
  if n == 0 then error("no tokens in " .. args[1]) end
  path = args[2] or path
  cursorFile = args[3]
  if cursorFile then
    local f = io.open(cursorFile, "r")
    if f then
      local saved = tonumber(f:read("*l") or "0") or 0
      f:close()
      i = (saved + SAVE_EVERY) % n
    end
  end
end

function request()
  i = i % n + 1
  if cursorFile and i % SAVE_EVERY == 0 then
    local f = io.open(cursorFile, "w")
    f:write(tostring(i), "\n")
    f:close()
  end
  local r = requests[i]
  if r == nil then
    -- Formatted once per token; wrk.format adds Host.
    r = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[i] })
    requests[i] = r
  end
  return r
end
