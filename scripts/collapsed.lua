-- collapsed: "root;child;leaf WEIGHT" lines for flamegraph.pl, speedscope
-- and inferno.  Trace trees give each node's self time under its stack;
-- watch calls give one frame each (not those a trace tree already holds:
-- profile.records).
local profile = require("profile")
local args = peeka.script{
  description = "Collapsed stacks (self time per call path, or top's samples) for flamegraph.pl, speedscope or inferno",
  usage = "peeka-analyze ARCHIVE... collapsed [--arg unit=us] > stacks.folded",
  args = {
    {name = "unit", type = "string", default = "us", choices = {"ns", "us", "ms", "calls"},
     help = "weight of a stack: self time in ns, us or ms, or the number of calls"},
    {name = "func", type = "string", help = "only records of functions matching this glob"},
  },
}

local div = ({ns = 1, us = 1000, ms = 1000000, calls = 0})[args.unit]
local weights, order = {}, {}
local function add(stack, self_ns, count)
  local w = div == 0 and count or self_ns / div
  if not weights[stack] then
    weights[stack] = 0
    order[#order + 1] = stack
  end
  weights[stack] = weights[stack] + w
end

local function frame(name) return (name or "?"):gsub(";", ":") end

local function walk(n, prefix)
  local stack = prefix and (prefix .. ";" .. frame(n.func)) or frame(n.func)
  add(stack, n.self_ns or 0, n.count or 1)
  for _, c in ipairs(n.children or {}) do walk(c, stack) end
end

-- top: outermost frame first; "function (file)" names a Python frame
local function sample(r)
  local parts = {}
  for i = #r.stack, 1, -1 do
    local f = r.stack[i]
    parts[#parts + 1] = frame(tostring(f["function"]) .. " (" .. tostring(f.filename) .. ")")
  end
  if #parts > 0 then
    add(table.concat(parts, ";"), math.floor((r.interval_s or 0) * 1e9 + 0.5), 1)
  end
end

for r in profile.records{kind = {"watch", "trace", "top"}, func = args.func} do
  if r.kind == "top" and type(r.stack) == "table" then
    sample(r)
  elseif r.kind == "trace" and type(r.call_tree) == "table" then
    walk(r.call_tree, nil)
  elseif r.kind == "watch" and r.location ~= "AtEnter" and r.cost_ns then
    add(frame(r.func_name), r.cost_ns, 1)
  end
end

table.sort(order)
for _, s in ipairs(order) do
  local w = math.floor(weights[s] + 0.5)
  if w > 0 then print(s .. " " .. string.format("%d", w)) end
end
