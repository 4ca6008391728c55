-- profile: stacks with weights from records, shared by flamegraph,
-- speedscope and collapsed (require("profile")).  profile.records reads
-- records without the watch calls a trace tree already holds.
--
-- A stack is a list of frame names, outermost first, with a weight in a
-- unit: "ns" (time: trace trees give each node's self time under its
-- path; a watch call gives one frame with its cost) or "calls" (a stack
-- record is one call under the callers it recorded).  Other record kinds
-- plug in through profile.sources[kind] = function(r, emit) ... end, where
-- emit(frames, weight, unit) takes one stack: e.g. sampled stacks with
-- unit "samples".
local profile = {}

local function base_name(path)
  return path and (path:match("([^/]+)$") or path) or "?"
end

-- A caller frame of a stack record: "function (file.py)".
local function caller_name(e)
  return string.format("%s (%s)", e["function"] or "?", base_name(e.filename))
end

local function trace_nodes(n, path, emit)
  path[#path + 1] = n.func or "?"
  local self_ns = n.self_ns or 0
  if self_ns > 0 then emit(path, self_ns, "ns") end
  for _, c in ipairs(n.children or {}) do trace_nodes(c, path, emit) end
  path[#path] = nil
end

profile.sources = {
  trace = function(r, emit)
    if type(r.call_tree) == "table" then trace_nodes(r.call_tree, {}, emit) end
  end,
  watch = function(r, emit)
    if r.location ~= "AtEnter" and r.cost_ns then emit({r.func_name or "?"}, r.cost_ns, "ns") end
  end,
  stack = function(r, emit)
    local st = r.stack
    if type(st) ~= "table" then return end
    local frames = {}
    for i = #st, 2, -1 do frames[#frames + 1] = caller_name(st[i]) end
    frames[#frames + 1] = r.func_name or (st[1] and caller_name(st[1])) or "?"
    emit(frames, 1, "calls")
  end,
}

-- The earliest session start_ns of the archives given (nil without any):
-- the zero of the time axis for several archives at once.
function profile.start_ns()
  local first
  for _, a in ipairs(peeka.archives) do
    local s = a.session and a.session.start_ns
    if s and (not first or s < first) then first = s end
  end
  return first
end

-- The kinds profile.sources reads, for a records{kind = ...} filter.
function profile.kinds()
  local k = {}
  for name in pairs(profile.sources) do k[#k + 1] = name end
  table.sort(k)
  return k
end

local function id(r) return r:archive().index .. ":" .. tostring(r.probe_id) .. ":" .. tostring(r.seq) end

-- The watch calls (ids) that the traced calls of records(filter) hold, on
-- the same thread: the traced call itself (a watch probe on the traced
-- function: the same start, written just after the trace record), and
-- the calls that started at or after a traced call's start and were
-- written before its trace record.  Records are written as calls end, so
-- the calls a traced call made are the last watch records before its
-- trace record; a call that ended before it began started earlier.  Only
-- starts are compared: the tree's cost counts from when tracing began,
-- after the call's ts_ns, so ts_ns + cost_ns can fall before its end.
local function traced_watch_calls(filter)
  local pending, starts, covered = {}, {}, {}   -- per "archive:thread": {{ts_ns, id}, ...}; {[ts_ns] = func}
  for r in peeka.records(filter) do
    local key = r:archive().index .. ":" .. tostring(r.thread_id)
    local calls, traced = pending[key] or {}, starts[key] or {}
    pending[key], starts[key] = calls, traced
    if r.kind == "watch" and r.location ~= "AtEnter" and r.ts_ns then
      if traced[r.ts_ns] == r.func_name then covered[id(r)] = true else calls[#calls + 1] = {r.ts_ns, id(r)} end
    elseif r.kind == "trace" and r.ts_ns then
      traced[r.ts_ns] = r.func_name
      while #calls > 0 and calls[#calls][1] >= r.ts_ns do covered[table.remove(calls)[2]] = true end
    end
  end
  return covered
end

local function has(list, x)
  if type(list) ~= "table" then return list == x end
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

-- peeka.records(filter), kind defaulting to profile.kinds(), less the watch
-- calls a trace tree already holds (traced_watch_calls): their time is in
-- the tree, as a node, so adding them again would count them twice.
function profile.records(filter)
  local f, covered = {}, {}
  for k, v in pairs(filter or {}) do f[k] = v end
  f.kind = f.kind or profile.kinds()
  if has(f.kind, "watch") and has(f.kind, "trace") then
    local tf = {}
    for k, v in pairs(f) do tf[k] = v end
    tf.kind = {"trace", "watch"}
    covered = traced_watch_calls(tf)
  end
  local it = peeka.records(f)
  return function()
    for r in it do
      if not (r.kind == "watch" and covered[id(r)]) then return r end
    end
  end
end

-- Feeds every stack of record r to emit(frames, weight, unit).
function profile.stacks(r, emit)
  local src = profile.sources[r.kind]
  if src then src(r, emit) end
end

-- A merged tree of stacks: node = {name, total, self, children (list), index}.
local Tree = {}
Tree.__index = Tree

function profile.tree()
  return setmetatable({root = {name = "all", total = 0, self = 0, children = {}, index = {}}}, Tree)
end

function Tree:add(frames, weight)
  local n = self.root
  n.total = n.total + weight
  for _, name in ipairs(frames) do
    local c = n.index[name]
    if not c then
      c = {name = name, total = 0, self = 0, children = {}, index = {}}
      n.index[name] = c
      n.children[#n.children + 1] = c
    end
    c.total = c.total + weight
    n = c
  end
  n.self = n.self + weight
end

function Tree:total() return self.root.total end

-- Children sorted by name (flame graphs are alphabetical, as flamegraph.pl).
function Tree:sort()
  local function walk(n)
    table.sort(n.children, function(a, b) return a.name < b.name end)
    for _, c in ipairs(n.children) do walk(c) end
  end
  walk(self.root)
end

-- The node at a path of names below the root, or nil.
function Tree:find(path)
  local n = self.root
  for _, name in ipairs(path) do
    n = n.index[name]
    if not n then return nil end
  end
  return n
end

return profile
