-- inspect: the inspect probe's values and instance counts.
local args = peeka.script{
  description = "The inspect probe's values (get) and live instances (count, instances)",
  usage = "peeka-analyze ARCHIVE... inspect [--arg indent=2]",
  args = {
    {name = "indent", type = "integer", default = 2, help = "JSON indentation of values (0: one line)"},
  },
}

local null = peeka.json.null
local function v(x) if x == null then return nil end return x end
local function show(x)
  if args.indent > 0 then return peeka.json.encode(x, {indent = args.indent}) end
  return peeka.json.encode(x)
end

local seen = 0
for r in peeka.records{kind = "inspect"} do
  seen = seen + 1
  if r.error then
    print(string.format("inspect %s: error: %s", r.func_name or r.type or "", r.error))
  elseif r.action == "get" then
    print(string.format("%s (%s) =", r.func_name, r.type))
    local val = r.value
    if val == nil then val = null end
    print(show(val))
  else
    print(string.format("%d live objects of type %s", r.count, r.type))
    local t = peeka.table{columns = {"type", "count"}}
    for _, row in ipairs(v(r.types) or {}) do t:add{row.type, row.count} end
    t:print()
    for i, x in ipairs(v(r.instances) or {}) do print(string.format("[%d] %s", i, show(x))) end
  end
end
if seen == 0 and peeka.format == "text" then print("no inspect records") end
