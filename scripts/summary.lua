-- summary: per function calls, errors and cost percentiles.
local args = peeka.script{
  description = "Per-function calls, errors, mean, p50, p95, p99 and max cost (watch records)",
  usage = "peeka-analyze ARCHIVE... summary [--arg sort=total] [--arg top=N] [--arg func=GLOB]",
  help = "Percentiles are exact up to 10000 calls per function, then within 0.4%\n" ..
         "(a log-linear histogram keeps memory constant however large the archive).",
  args = {
    {name = "sort", type = "string", default = "total",
     choices = {"total", "calls", "errors", "mean", "p50", "p95", "p99", "max", "name"},
     help = "row order: total, calls, errors, mean, p50, p95, p99, max or name"},
    {name = "top", type = "integer", default = 0, help = "show only the first N rows (0: all)"},
    {name = "func", type = "string", help = "only functions matching this glob, e.g. 'app.*'"},
  },
}

local costs = peeka.group()
local errors = peeka.counter()
for r in peeka.records{kind = "watch", location = {"AtExit", "AtExceptionExit"}, func = args.func} do
  local f = r.func_name
  costs:add(f, r.cost_ns)
  if not r.success then errors:add(f) end
end

local rows = {}
for f, s in costs:each() do
  local row = {name = f, calls = s:count(), errors = errors:get(f), mean = s:mean(),
               p50 = s:p(50), p95 = s:p(95), p99 = s:p(99), max = s:max(), total = s:sum()}
  rows[#rows + 1] = row
end
local key = args.sort
table.sort(rows, function(a, b)
  if key == "name" then return a.name < b.name end
  if a[key] ~= b[key] then return a[key] > b[key] end
  return a.name < b.name
end)

local d = peeka.duration
local t = peeka.table{columns = {
  "function", "calls", "errors",
  {name = "mean", format = d}, {name = "p50", format = d}, {name = "p95", format = d},
  {name = "p99", format = d}, {name = "max", format = d}, {name = "total", format = d}}}
for i, r in ipairs(rows) do
  if args.top > 0 and i > args.top then break end
  t:add{r.name, r.calls, r.errors, r.mean, r.p50, r.p95, r.p99, r.max, r.total}
end
if #rows == 0 and peeka.format == "text" then
  print("no watch records (AtExit / AtExceptionExit) in the archive" .. (#peeka.archives > 1 and "s" or ""))
  return
end
t:print()
