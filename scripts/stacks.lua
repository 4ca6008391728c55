-- stacks: the stack probe's records grouped by call path.
local args = peeka.script{
  description = "Calls seen by stack probes grouped by their call path, most frequent first",
  usage = "peeka-analyze ARCHIVE... stacks [--arg func=GLOB] [--arg n=10]",
  args = {
    {name = "func", type = "string", help = "only records of functions matching this glob"},
    {name = "n", type = "integer", default = 10, help = "call paths shown (0: all)"},
  },
}

local groups, order = {}, {}
for r in peeka.records{kind = "stack", func = args.func} do
  local parts = {}
  for _, f in ipairs(r.stack or {}) do
    parts[#parts + 1] = string.format("%s (%s:%s)", tostring(f["function"]), tostring(f.filename), tostring(f.lineno))
  end
  local key = r.func_name .. "\n" .. table.concat(parts, "\n")
  local g = groups[key]
  if not g then
    g = {func = r.func_name, frames = parts, count = 0, first = r.ts_ns, threads = {}}
    groups[key] = g
    order[#order + 1] = g
  end
  g.count = g.count + 1
  g.last = r.ts_ns
  if r.thread_name then g.threads[r.thread_name] = true end
end
if #order == 0 then
  print("no stack records in the archive" .. (#peeka.archives > 1 and "s" or ""))
  return
end
table.sort(order, function(a, b)
  if a.count ~= b.count then return a.count > b.count end
  return a.func .. table.concat(a.frames) < b.func .. table.concat(b.frames)
end)
local total = 0
for _, g in ipairs(order) do total = total + g.count end
print(string.format("%d calls, %d call paths", total, #order))
for i, g in ipairs(order) do
  if args.n > 0 and i > args.n then break end
  local names = {}
  for n in pairs(g.threads) do names[#names + 1] = n end
  table.sort(names)
  print("")
  print(string.format("%d call%s (%.1f%%)  %s  threads: %s", g.count, g.count == 1 and "" or "s",
                      100 * g.count / total, g.func, #names > 0 and table.concat(names, ", ") or "?"))
  for _, f in ipairs(g.frames) do print("    " .. f) end
end
