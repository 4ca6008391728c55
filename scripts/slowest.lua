-- slowest: the N slowest calls, with their arguments.
local args = peeka.script{
  description = "The N slowest calls with their arguments, result or exception",
  usage = "peeka-analyze ARCHIVE... slowest [--arg n=10] [--arg func=GLOB] [--arg width=80]",
  args = {
    {name = "n", type = "integer", default = 10, help = "how many calls to show"},
    {name = "func", type = "string", help = "only functions matching this glob"},
    {name = "min_cost", type = "duration", help = "only calls at least this slow, e.g. 5ms"},
    {name = "width", type = "integer", default = 80, help = "cut the arguments column at this width (0: never)"},
  },
}
if args.n < 1 then error("slowest: n must be at least 1") end

-- A min-heap of the n slowest records seen so far.
local heap = {}
local function less(a, b) return a.cost_ns < b.cost_ns end
local function push(r)
  heap[#heap + 1] = r
  local i = #heap
  while i > 1 do
    local p = i // 2
    if not less(heap[i], heap[p]) then break end
    heap[i], heap[p] = heap[p], heap[i]
    i = p
  end
end
local function replace_top(r)
  heap[1] = r
  local i, n = 1, #heap
  while true do
    local l, rr, m = 2 * i, 2 * i + 1, i
    if l <= n and less(heap[l], heap[m]) then m = l end
    if rr <= n and less(heap[rr], heap[m]) then m = rr end
    if m == i then break end
    heap[i], heap[m] = heap[m], heap[i]
    i = m
  end
end

local filter = {kind = "watch", location = {"AtExit", "AtExceptionExit"}, func = args.func}
if args.min_cost then filter.min_cost_ns = args.min_cost end
for r in peeka.records(filter) do
  local c = r.cost_ns
  if c then
    if #heap < args.n then push(r)
    elseif c > heap[1].cost_ns then replace_top(r) end
  end
end

table.sort(heap, function(a, b)
  if a.cost_ns ~= b.cost_ns then return a.cost_ns > b.cost_ns end
  return a.ts_ns < b.ts_ns
end)

local function cut(s)
  if args.width > 0 and #s > args.width then return s:sub(1, args.width - 3) .. "..." end
  return s
end

local t = peeka.table{columns = {"#", {name = "cost", format = peeka.duration}, "function",
                                 "at", "thread", "arguments", "outcome"}}
for i, r in ipairs(heap) do
  local a = peeka.json.encode(r.params or peeka.json.array())
  local kw = r.kwargs
  if kw and next(kw) then a = a .. " " .. peeka.json.encode(kw) end
  local start = r:archive().session.start_ns
  local at = (start and r.ts_ns) and string.format("+%.3fs", (r.ts_ns - start) / 1e9) or ""
  local outcome = r.throwExp and ("raised " .. r.throwExp) or ("-> " .. peeka.json.encode(r.returnObj))
  t:add{i, r.cost_ns, r.func_name, at, r.thread_name or tostring(r.thread_id), cut(a), cut(outcome)}
end
if #heap == 0 and peeka.format == "text" then
  print("no watch calls matched")
  return
end
t:print()
