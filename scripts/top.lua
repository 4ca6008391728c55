-- top: top's samples as Peeka's table: per function own and total samples.
local args = peeka.script{
  description = "Per function own and total samples and their share (top records)",
  usage = "peeka-analyze ARCHIVE... top [--arg sort=own|total] [--arg n=20] [--arg thread=GLOB]",
  help = "own: the function was the innermost frame of a sample; total: it was anywhere\n" ..
         "on the sampled stack (counted once per sample).  Percentages are of all samples\n" ..
         "(one sample is one thread at one interval).",
  args = {
    {name = "sort", type = "string", choices = {"own", "total"}, help = "row order (default: the probe's --sort, else own)"},
    {name = "n", type = "integer", default = 20, help = "rows shown (0: all)"},
    {name = "thread", type = "string", help = "only samples of threads whose name matches this glob"},
  },
}

local sort = args.sort
if not sort then
  for _, a in ipairs(peeka.archives) do
    for _, p in ipairs(a.session and a.session.probes or {}) do
      if p.kind == "top" and p.options and p.options.sort then sort = sort or p.options.sort end
    end
  end
end
sort = sort or "own"

local own, total, where = peeka.counter(), peeka.counter(), {}
local samples = 0
local function key(f) return tostring(f["function"]) .. "\0" .. tostring(f.filename) end
for r in peeka.records{kind = "top", thread = args.thread} do
  local stack = r.stack or {}
  if #stack > 0 then
    samples = samples + 1
    own:add(key(stack[1]))
    local seen = {}
    for _, f in ipairs(stack) do
      local k = key(f)
      if not seen[k] then
        seen[k] = true
        total:add(k)
        where[k] = where[k] or f
      end
    end
  end
end
if samples == 0 and peeka.format == "text" then
  print("no top samples in the archive" .. (#peeka.archives > 1 and "s" or ""))
  return
end

local rows = {}
for _, k in ipairs(total:keys()) do
  rows[#rows + 1] = {k = k, own = own:get(k), total = total:get(k)}
end
table.sort(rows, function(a, b)
  if a[sort] ~= b[sort] then return a[sort] > b[sort] end
  local other = sort == "own" and "total" or "own"
  if a[other] ~= b[other] then return a[other] > b[other] end
  return a.k < b.k
end)

local function pct(n) return string.format("%.2f%%", 100 * n / samples) end
local t = peeka.table{title = string.format("%d samples", samples), columns = {
  {name = "own%", align = "right"}, {name = "total%", align = "right"}, "own", "total",
  {name = "function", align = "left"}, {name = "file", align = "left"}}}
for i, r in ipairs(rows) do
  if args.n > 0 and i > args.n then break end
  local f = where[r.k]
  t:add{pct(r.own), pct(r.total), r.own, r.total, tostring(f["function"]), tostring(f.filename)}
end
t:print()
