-- exceptions: failing calls grouped by exception type and message, with
-- where they were raised.
local args = peeka.script{
  description = "Failing calls grouped by exception type and message, with the functions that raised",
  usage = "peeka-analyze ARCHIVE... exceptions [--arg by=message|exact|type] [--arg func=GLOB]",
  args = {
    {name = "by", type = "string", default = "message", choices = {"message", "exact", "type"},
     help = "group by type and message with its numbers, hex and quoted values\n" ..
            "normalised (one example message per group), by the exact message, or by type only"},
    {name = "func", type = "string", help = "only functions matching this glob"},
    {name = "width", type = "integer", default = 100, help = "cut messages at this width (0: never)"},
  },
}

-- "funcs.py:17 in boom": where the call's exception was raised (the
-- innermost frame of throwTrace), or nil in recordings made before it.
local function raised_at(r)
  local tr = r.throwTrace
  local f = type(tr) == "table" and tr[#tr]
  if type(f) ~= "table" then return nil end
  local file = type(f.file) == "string" and f.file:match("[^/]*$") or "?"
  return string.format("%s:%s in %s", file, tostring(f.line or "?"), tostring(f["function"] or "?"))
end

-- "odd 17", "odd 23" -> "odd <n>": the values that vary from call to call.
local function shape(msg)
  msg = msg:gsub("'[^']*'", "'<s>'"):gsub('"[^"]*"', '"<s>"')
  msg = msg:gsub("%f[%w_]0[xX]%x+%f[^%w_]", "<hex>")
  msg = msg:gsub("%f[%w_]%-?%d+%.?%d*[eE]?[%-+]?%d*%f[^%w_]", "<n>")
  return msg
end

local groups, order = {}, {}
local total = 0
for r in peeka.records{kind = "watch", errors = true, func = args.func} do
  local exc = r.throwExp or "(unknown exception)"
  local etype, msg = exc:match("^([%w_%.]+): (.*)$")
  if not etype then etype, msg = exc:match("^([%w_%.]+)$"), "" end
  if not etype then etype, msg = "(unparsed)", exc end
  local key = args.by == "type" and etype
            or etype .. "\0" .. (args.by == "exact" and msg or shape(msg))
  local g = groups[key]
  if not g then
    g = {type = etype, message = args.by == "type" and "" or msg, count = 0, funcs = peeka.counter(),
         first = r.ts_ns, last = r.ts_ns, where = peeka.counter()}
    groups[key] = g
    order[#order + 1] = g
  end
  g.count = g.count + 1
  g.funcs:add(r.func_name or "?")
  local at = raised_at(r)
  if at then g.where:add(at) end
  local ts = r.ts_ns
  if ts and (not g.first or ts < g.first) then g.first = ts end
  if ts and (not g.last or ts > g.last) then g.last = ts end
  total = total + 1
end

table.sort(order, function(a, b)
  if a.count ~= b.count then return a.count > b.count end
  if a.type ~= b.type then return a.type < b.type end
  return a.message < b.message
end)

local function cut(s)
  if args.width > 0 and #s > args.width then return s:sub(1, args.width - 3) .. "..." end
  return s
end

local cols = {"count", "exception"}
if args.by ~= "type" then cols[#cols + 1] = "message" end
cols[#cols + 1] = "functions"
cols[#cols + 1] = "raised at"
local t = peeka.table{columns = cols}
for _, g in ipairs(order) do
  local fs = {}
  for _, f in ipairs(g.funcs:keys()) do
    local n = g.funcs:get(f)
    fs[#fs + 1] = n == g.count and f or string.format("%s (%d)", f, n)
  end
  -- the most frequent place, and how many others there were
  local places, at = g.where:keys(), ""
  table.sort(places, function(a, b)
    local na, nb = g.where:get(a), g.where:get(b)
    if na ~= nb then return na > nb end
    return a < b
  end)
  if #places > 0 then
    at = places[1]
    if #places > 1 then at = string.format("%s (+%d more)", at, #places - 1) end
  end
  if args.by ~= "type" then
    t:add{g.count, g.type, cut(g.message), table.concat(fs, ", "), at}
  else
    t:add{g.count, g.type, table.concat(fs, ", "), at}
  end
end
if total == 0 and peeka.format == "text" then
  print("no failing calls")
  return
end
t:print()
