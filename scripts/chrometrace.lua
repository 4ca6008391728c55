-- chrometrace: Chrome trace event JSON (opens in Perfetto UI and
-- chrome://tracing).  Watch calls become slices starting at their ts_ns (the call's start);
-- trace trees become nested slices, children placed back to back in call
-- order (a trace records costs, not each child's start time).
local profile = require("profile")
local args = peeka.script{
  description = "Chrome trace event JSON of watch calls and trace trees, for Perfetto UI (ui.perfetto.dev)",
  usage = "peeka-analyze ARCHIVE... chrometrace [--arg out=FILE] > trace.json",
  args = {
    {name = "out", type = "string", help = "write to this file instead of standard output"},
    {name = "func", type = "string", help = "only functions matching this glob"},
  },
}

local out = args.out and assert(io.open(args.out, "w")) or io.stdout
local first = true
local function emit(ev)
  out:write(first and "\n" or ",\n", peeka.json.encode(ev))
  first = false
end

local base = profile.start_ns() or 0
local function us(ns) return (ns - base) / 1000 end

out:write('{"displayTimeUnit":"ms","traceEvents":[')
local named = {}
local function name_thread(pid, r)
  local key = pid .. ":" .. tostring(r.thread_id)
  if named[key] then return end
  named[key] = true
  emit{name = "thread_name", ph = "M", pid = pid, tid = r.thread_id or 0,
       args = {name = r.thread_name or tostring(r.thread_id)}}
end

local function tree_events(n, start_ns, pid, tid)
  emit{name = n.func or "?", cat = "trace", ph = "X", ts = us(start_ns), dur = (n.cost_ns or 0) / 1000,
       pid = pid, tid = tid, args = {file = n.file, line = n.line, count = n.count, self_ns = n.self_ns}}
  local t = start_ns
  for _, c in ipairs(n.children or {}) do
    tree_events(c, t, pid, tid)
    t = t + (c.cost_ns or 0)
  end
end

for i, a in ipairs(peeka.archives) do
  local t = a.session and a.session.target or {}
  local pid = t.pid or i
  emit{name = "process_name", ph = "M", pid = pid, args = {name = table.concat(t.argv or {a.name}, " ")}}
  for r in peeka.records{archive = i, kind = {"watch", "trace"}, func = args.func} do
    local tid = r.thread_id or 0
    name_thread(pid, r)
    if r.kind == "watch" and r.location ~= "AtEnter" and r.cost_ns and r.ts_ns then
      emit{name = r.func_name, cat = "watch", ph = "X", ts = us(r.ts_ns), dur = r.cost_ns / 1000,
           pid = pid, tid = tid, args = {params = r.params, throwExp = r.throwExp}}
    elseif r.kind == "trace" and type(r.call_tree) == "table" and r.ts_ns then
      local tree = r.call_tree
      tree_events(tree, r.ts_ns, pid, tid)
    end
  end
end
out:write("\n]}\n")
if args.out then out:close() end
