-- profile: stacks with weights from records, shared by flamegraph and
-- speedscope (require("profile")).
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

-- Where the trace trees of records(filter) ran: per "archive:thread", the
-- [start, end] ns spans of the traced calls, sorted, overlapping ones merged.
local function traced_spans(filter)
  local by = {}
  for r in peeka.records(filter) do
    local t = r.call_tree
    if type(t) == "table" and r.ts_ns and t.cost_ns then
      local key = r:archive().index .. ":" .. tostring(r.thread_id)
      by[key] = by[key] or {}
      table.insert(by[key], {r.ts_ns, r.ts_ns + t.cost_ns})
    end
  end
  for key, spans in pairs(by) do
    table.sort(spans, function(a, b) return a[1] < b[1] end)
    local merged = {}
    for _, s in ipairs(spans) do
      local last = merged[#merged]
      if last and s[1] <= last[2] then
        last[2] = math.max(last[2], s[2])
      else
        merged[#merged + 1] = s
      end
    end
    by[key] = merged
  end
  return by
end

-- True when ts is inside one of the spans (sorted, disjoint).
local function inside(spans, ts)
  local lo, hi = 1, #spans
  while lo <= hi do
    local mid = (lo + hi) // 2
    if ts < spans[mid][1] then hi = mid - 1
    elseif ts > spans[mid][2] then lo = mid + 1
    else return true end
  end
  return false
end

local function has(list, x)
  if type(list) ~= "table" then return list == x end
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

-- peeka.records(filter), kind defaulting to profile.kinds(), less the watch
-- calls a trace tree already holds: a watch call that started while a
-- traced call ran on the same thread of the same archive is in that tree's
-- time (as its node, or inside one), so adding it again would count it
-- twice.  A watch call around a traced call still counts whole.
function profile.records(filter)
  local f, spans = {}, {}
  for k, v in pairs(filter or {}) do f[k] = v end
  f.kind = f.kind or profile.kinds()
  if has(f.kind, "watch") and has(f.kind, "trace") then
    local tf = {}
    for k, v in pairs(f) do tf[k] = v end
    tf.kind = "trace"
    spans = traced_spans(tf)
  end
  local it = peeka.records(f)
  return function()
    for r in it do
      local s = r.kind == "watch" and r.ts_ns and spans[r:archive().index .. ":" .. tostring(r.thread_id)]
      if not (s and inside(s, r.ts_ns)) then return r end
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
