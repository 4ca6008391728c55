-- timeline: what each thread was doing when, as text.  mode=chart draws
-- one row per thread across the time range, each column the function
-- that took most of that slice ("." idle), with a legend; mode=list
-- prints every call in time order per thread, nested calls indented.
-- Calls are watch calls (ts_ns is their start) and trace roots.  Times
-- are UTC, as in the archive.
local profile = require("profile")
local args = peeka.script{
  description = "Calls over time per thread as a text chart or list: what was this worker doing at 12:03?",
  usage = "peeka-analyze ARCHIVE... timeline [--arg from=12:03] [--arg to=12:04] [--arg thread=worker-*] [--arg mode=list]",
  args = {
    {name = "mode", type = "string", default = "chart", choices = {"chart", "list"},
     help = "chart: one row per thread, a letter per time slice; list: every call, in order"},
    {name = "from", type = "string",
     help = "start: a UTC clock time (12:03, 12:03:05.250) or a duration after the recording's start (10s)"},
    {name = "to", type = "string", help = "end, as from"},
    {name = "thread", type = "string", help = "only threads whose name matches this glob"},
    {name = "func", type = "string", help = "only functions matching this glob"},
    {name = "width", type = "integer", default = 80, help = "chart: columns of the time axis"},
    {name = "limit", type = "integer", default = 0, help = "list: at most N calls per thread (0: all)"},
  },
}

local origin = profile.start_ns()

local NS = 1000000000
local function clock(ns, micro)
  if micro then return os.date("!%H:%M:%S", ns // NS) .. string.format(".%06d", (ns % NS) // 1000) end
  return os.date("!%H:%M:%S", ns // NS) .. string.format(".%03d", (ns % NS) // 1000000)
end

-- A time argument as absolute ns: a clock time on the recording's UTC day,
-- or a duration after its start.
local function when(text, name)
  if not text then return nil end
  local h, m, s = text:match("^(%d%d?):(%d%d):?([%d.]*)$")
  if h and (tonumber(h) > 23 or tonumber(m) > 59 or (tonumber(s) or 0) >= 60) then h = nil end
  if h then
    if not origin then
      peeka.usage_error("timeline: --arg " .. name .. "=" .. text .. " needs the archive's start time")
    end
    local day = origin - origin % (86400 * NS)
    local secs = (tonumber(s) or 0)
    return day + (tonumber(h) * 3600 + tonumber(m) * 60) * NS + math.floor(secs * NS + 0.5)
  end
  local ok, d = pcall(peeka.parse_duration, text)
  if not ok or not d then
    peeka.usage_error(string.format("timeline: --arg %s=%s: expected a clock time (12:03, 12:03:05.5) or a duration (10s)",
                        name, text))
  end
  return (origin or 0) + d
end
local from, to = when(args.from, "from"), when(args.to, "to")
if from and to and to <= from then peeka.usage_error("timeline: --arg to must be after --arg from") end

-- Calls per thread: {start, stop, name}.
local threads, order = {}, {}
local filter = {kind = {"watch", "trace"}, func = args.func, thread = args.thread}
if from then filter.since_ns = from - 3600 * NS end      -- calls that started before but still ran
if to then filter.until_ns = to end
for r in peeka.records(filter) do
  local cost = r.kind == "trace" and type(r.call_tree) == "table" and r.call_tree.cost_ns or r.cost_ns
  if r.ts_ns and cost and r.location ~= "AtEnter" then
    local stop = r.ts_ns + cost
    if (not from or stop > from) and (not to or r.ts_ns < to) then
      local key = r:archive().index .. ":" .. tostring(r.thread_id)
      local t = threads[key]
      if not t then
        t = {name = tostring(r.thread_name or r.thread_id), id = r.thread_id, calls = {}}
        threads[key] = t
        order[#order + 1] = key
      end
      t.calls[#t.calls + 1] = {r.ts_ns, stop, r.func_name or "?"}
    end
  end
end

if #order == 0 then
  print("no calls" .. ((from or to) and " in that time range" or "") ..
        ((args.thread or args.func) and " for the threads and functions asked" or ""))
  return
end

local t0, t1 = from, to
for _, key in ipairs(order) do
  local t = threads[key]
  table.sort(t.calls, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] > b[2]) end)
  for _, c in ipairs(t.calls) do
    if not from and (not t0 or c[1] < t0) then t0 = c[1] end
    if not to and (not t1 or c[2] > t1) then t1 = c[2] end
  end
end
if t1 <= t0 then t1 = t0 + 1 end

local function list()
  for i, key in ipairs(order) do
    local t = threads[key]
    if i > 1 then print("") end
    print(string.format("== %s (%s): %d call%s", t.name, tostring(t.id), #t.calls, #t.calls == 1 and "" or "s"))
    local open = {}
    for k, c in ipairs(t.calls) do
      if args.limit > 0 and k > args.limit then
        print(string.format("   ... %d more", #t.calls - args.limit))
        break
      end
      while #open > 0 and open[#open] <= c[1] do open[#open] = nil end
      print(string.format("%s  +%-10s [%s] %s%s", clock(c[1], true), peeka.duration(c[1] - t0), peeka.duration(c[2] - c[1]),
                          string.rep("  ", #open), c[3]))
      open[#open + 1] = c[2]
    end
  end
end

local SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

local function chart()
  local cols, span = args.width, t1 - t0
  local per_col = span / cols
  local totals, counts = {}, {}
  for _, key in ipairs(order) do
    for _, c in ipairs(threads[key].calls) do
      totals[c[3]] = (totals[c[3]] or 0) + (c[2] - c[1])
      counts[c[3]] = (counts[c[3]] or 0) + 1
    end
  end
  local names = {}
  for name in pairs(totals) do names[#names + 1] = name end
  table.sort(names, function(a, b) return totals[a] > totals[b] or (totals[a] == totals[b] and a < b) end)
  local symbol = {}
  for i, name in ipairs(names) do symbol[name] = i <= #SYMBOLS and SYMBOLS:sub(i, i) or "#" end

  local label_w = 10
  for _, key in ipairs(order) do label_w = math.max(label_w, #threads[key].name) end
  label_w = math.min(label_w, 24)
  print(string.format("timeline %s .. %s UTC (%s), %d columns of %s; '.' idle", clock(t0), clock(t1),
                      peeka.duration(span), cols, peeka.duration(math.max(1, math.floor(per_col)))))
  local axis = string.rep(" ", label_w + 2) .. clock(t0)
  local right = clock(t1)
  axis = axis .. string.rep(" ", math.max(1, label_w + 2 + cols - #axis - #right)) .. right
  print(axis)
  for _, key in ipairs(order) do
    local t, busy = threads[key], {}
    for c = 1, cols do busy[c] = {} end
    for _, call in ipairs(t.calls) do
      local a, b = math.max(call[1], t0), math.min(call[2], t1)
      local first = math.min(cols, math.floor((a - t0) / per_col) + 1)
      local last = math.min(cols, math.floor((b - t0) / per_col) + 1)
      for c = first, last do
        local lo, hi = t0 + (c - 1) * per_col, t0 + c * per_col
        local overlap = math.min(b, hi) - math.max(a, lo)
        if overlap > 0 or (a == b and c == first) then
          busy[c][call[3]] = (busy[c][call[3]] or 0) + math.max(overlap, 1)
        end
      end
    end
    local row = {}
    for c = 1, cols do
      local best, bw = nil, 0
      for name, w in pairs(busy[c]) do
        if w > bw or (w == bw and best and name < best) then best, bw = name, w end
      end
      row[c] = best and symbol[best] or "."
    end
    print(string.format("%-" .. label_w .. "s  %s", t.name:sub(1, label_w), table.concat(row)))
  end
  print("")
  local name_w = 0
  for _, name in ipairs(names) do name_w = math.max(name_w, #name) end
  for _, name in ipairs(names) do
    print(string.format("%s  %-" .. name_w .. "s  %d call%s, %s", symbol[name], name, counts[name],
                        counts[name] == 1 and "" or "s",
                        peeka.duration(totals[name])))
  end
end

if args.mode == "list" then list() else chart() end
