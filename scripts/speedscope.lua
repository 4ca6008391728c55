-- speedscope: a file for https://www.speedscope.app (or `speedscope FILE`
-- from npm) in its own format (file-format-schema.json).  Per archive
-- and thread: an evented profile of the calls over time (trace trees as
-- nested calls, children back to back from the root's start as a trace
-- records costs, not each child's start; watch calls at their ts_ns, but
-- not those inside a traced call, already in its tree: profile.records), and
-- a sampled profile of the stacks (stack records, one call each, and any
-- kind scripts/lib/profile.lua knows with unit calls or samples).
local profile = require("profile")
local args = peeka.script{
  description = "speedscope JSON (evented profiles per thread from traces and calls, sampled from stacks)",
  usage = "peeka-analyze ARCHIVE... speedscope [--arg out=FILE.json]   # then open it in speedscope.app",
  args = {
    {name = "out", type = "string", help = "write to this file instead of standard output"},
    {name = "func", type = "string", help = "only records of functions matching this glob"},
  },
}

local function val(x) if x ~= peeka.null then return x end end   -- builtins have file and line null

local frames, frame_index = {}, {}
local function frame(name, file, line)
  name, file, line = val(name), val(file), val(line)
  local key = (name or "?") .. "\0" .. (file or "")
  local i = frame_index[key]
  if not i then
    i = #frames     -- speedscope's frame indexes start at 0
    frames[#frames + 1] = {name = name or "?", file = file, line = line}
    frame_index[key] = i
  end
  return i
end

local origin = profile.start_ns()

-- Calls over time per (archive, thread): intervals {start, stop, depth, frame}.
local timelines, order = {}, {}
local function timeline(r)
  local key = r:archive().index .. ":" .. tostring(r.thread_id)
  local t = timelines[key]
  if not t then
    t = {name = string.format("%s (%s) - %s", tostring(r.thread_name or "thread"), tostring(r.thread_id),
                              r:archive().name), intervals = {}, stacks = {}}
    timelines[key] = t
    order[#order + 1] = key
  end
  return t
end

local function tree_intervals(t, n, start, limit, depth)
  local stop = math.min(start + (n.cost_ns or 0), limit)
  t.intervals[#t.intervals + 1] = {start, stop, depth, frame(n.func, n.file, n.line)}
  local at = start
  for _, c in ipairs(n.children or {}) do
    tree_intervals(t, c, at, stop, depth + 1)
    at = math.min(at + (c.cost_ns or 0), stop)
  end
end

for r in profile.records{func = args.func} do
  origin = origin or r.ts_ns
  if r.kind == "trace" and type(r.call_tree) == "table" and r.ts_ns then
    tree_intervals(timeline(r), r.call_tree, r.ts_ns, math.maxinteger, 0)
  elseif r.kind == "watch" and r.location ~= "AtEnter" and r.ts_ns and r.cost_ns then
    local t = timeline(r)
    t.intervals[#t.intervals + 1] = {r.ts_ns, r.ts_ns + r.cost_ns, 0, frame(r.func_name)}
  else
    profile.stacks(r, function(names, weight, unit)
      if unit == "ns" then return end
      local t, idx = timeline(r), {}
      for i, name in ipairs(names) do idx[i] = frame(name) end
      t.stacks[#t.stacks + 1] = {idx, weight, unit}
    end)
  end
end
origin = origin or 0

-- Open/close events, properly nested as the format requires: intervals
-- sorted by start (outer first), each clipped to the one it starts in.
local function evented(t)
  table.sort(t.intervals, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    if a[2] ~= b[2] then return a[2] > b[2] end
    return a[3] < b[3]
  end)
  local events, stack = {}, {}
  local function close_until(at)
    while #stack > 0 and stack[#stack][2] <= at do
      local top = table.remove(stack)
      events[#events + 1] = {type = "C", frame = top[4], at = top[2] - origin}
    end
  end
  for _, iv in ipairs(t.intervals) do
    close_until(iv[1])
    local stop = #stack > 0 and math.min(iv[2], stack[#stack][2]) or iv[2]
    stack[#stack + 1] = {iv[1], stop, iv[3], iv[4]}
    events[#events + 1] = {type = "O", frame = iv[4], at = iv[1] - origin}
  end
  close_until(math.maxinteger)
  return {type = "evented", name = t.name, unit = "nanoseconds", startValue = events[1].at,
          endValue = events[#events].at, events = events}
end

local function sampled(t, unit)
  local samples, weights = {}, {}
  for _, s in ipairs(t.stacks) do
    if s[3] == unit then
      samples[#samples + 1] = peeka.json.array(s[1])
      weights[#weights + 1] = s[2]
    end
  end
  if #samples == 0 then return nil end
  local total = 0
  for _, w in ipairs(weights) do total = total + w end
  return {type = "sampled", name = string.format("%s, %s", t.name, unit == "calls" and "stack records" or unit),
          unit = "none", startValue = 0, endValue = total, samples = samples, weights = weights}
end

local profiles = {}
for _, key in ipairs(order) do
  local t = timelines[key]
  if #t.intervals > 0 then profiles[#profiles + 1] = evented(t) end
  for _, unit in ipairs{"samples", "calls"} do
    local p = sampled(t, unit)
    if p then profiles[#profiles + 1] = p end
  end
end

local names = {}
for _, a in ipairs(peeka.archives) do names[#names + 1] = a.name end
local doc = {
  ["$schema"] = "https://www.speedscope.app/file-format-schema.json",
  exporter = "peeka-analyze " .. peeka.version,
  name = table.concat(names, ", "),
  activeProfileIndex = 0,
  shared = {frames = peeka.json.array(frames)},
  profiles = peeka.json.array(profiles),
}
local text = peeka.json.encode(doc) .. "\n"
if args.out then peeka.write_file(args.out, text) else io.write(text) end
if #profiles == 0 then peeka.warn("speedscope: no trace, watch or stack records" ..
                                  (args.func and (" for " .. args.func) or "")) end
