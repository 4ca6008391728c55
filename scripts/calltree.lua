-- calltree: trace records as Peeka prints them, merged or one by one:
--   `---[125.3ms] calculator.Calculator.calculate()
--       +---[80.10ms] calculator.Calculator.add()
--       `---[45.20ms] calculator.Calculator.mul()
local args = peeka.script{
  description = "Recorded call trees (trace) as Peeka prints them, merged per root function or one by one",
  usage = "peeka-analyze ARCHIVE... calltree [--arg mode=merged|each] [--arg func=GLOB] [--arg min_cost=DURATION]",
  args = {
    {name = "mode", type = "string", default = "merged", choices = {"merged", "each"},
     help = "merged: one tree per root function, costs and counts summed; each: every trace"},
    {name = "func", type = "string", help = "only traces whose root function matches this glob"},
    {name = "min_cost", type = "duration", help = "only traces at least this slow, e.g. 100ms"},
    {name = "limit", type = "integer", default = 0, help = "each mode: show at most N traces (0: all)"},
  },
}

local function label(n)
  local s = string.format("[%sms] %s()", peeka.ms(n.cost_ns or 0), n.func or "?")
  if (n.count or 1) > 1 then s = s .. string.format(" [%d calls]", n.count) end
  if n.builtin then s = s .. " [builtin]" end
  return s
end

local function iso(ns)
  return os.date("!%Y-%m-%d %H:%M:%S", ns // 1000000000) .. string.format(".%03d", (ns % 1000000000) // 1000000)
end

-- Adds tree src into the merged tree dst (children matched by function).
local function merge(dst, src)
  dst.cost_ns = dst.cost_ns + (src.cost_ns or 0)
  dst.self_ns = dst.self_ns + (src.self_ns or 0)
  dst.count = dst.count + (src.count or 1)
  for _, c in ipairs(src.children or {}) do
    local key = (c.func or "?") .. "\0" .. tostring(c.builtin)
    local d = dst.index[key]
    if not d then
      d = {func = c.func, builtin = c.builtin, cost_ns = 0, self_ns = 0, count = 0, children = {}, index = {}}
      dst.index[key] = d
      dst.children[#dst.children + 1] = d
    end
    merge(d, c)
  end
end

local filter = {kind = "trace", func = args.func}
if args.min_cost then filter.min_cost_ns = args.min_cost end

local roots, order, shown, traces = {}, {}, 0, 0
for r in peeka.records(filter) do
  local tree = r.call_tree
  if type(tree) == "table" then
    traces = traces + 1
    if args.mode == "each" then
      if args.limit == 0 or shown < args.limit then
        shown = shown + 1
        if shown > 1 then print("") end
        print(string.format("ts=%s;thread_name=%s;thread_id=%s;total=%sms%s", r.ts_ns and iso(r.ts_ns) or "?",
              tostring(r.thread_name), tostring(r.thread_id), peeka.ms(tree.cost_ns or 0),
              r.truncated and ";truncated" or ""))
        io.write(peeka.tree(tree, label))
      end
    else
      local key = tree.func or "?"
      local m = roots[key]
      if not m then
        m = {func = tree.func, builtin = tree.builtin, cost_ns = 0, self_ns = 0, count = 0, children = {},
             index = {}, traces = 0}
        roots[key] = m
        order[#order + 1] = m
      end
      m.traces = m.traces + 1
      merge(m, tree)
    end
  end
end

if args.mode == "merged" then
  table.sort(order, function(a, b) return a.cost_ns > b.cost_ns end)
  for i, m in ipairs(order) do
    if i > 1 then print("") end
    print(string.format("%d trace%s of %s, total=%sms", m.traces, m.traces == 1 and "" or "s", m.func,
                        peeka.ms(m.cost_ns)))
    io.write(peeka.tree(m, label))
  end
end
if traces == 0 then print("no trace records" .. (args.func and (" for " .. args.func) or "")) end
