-- loggers: the logger probe's list, get and set records: each logger's
-- level, effective level, propagation and handlers; for set, the change
-- and whether it was undone at the end of the recording.
local args = peeka.script{
  description = "The logger probe's loggers: levels, effective levels, propagation, handlers; set and its undo",
  usage = "peeka-analyze ARCHIVE... loggers [--arg name=GLOB]",
  args = {
    {name = "name", type = "string", help = "only loggers whose name matches this glob"},
  },
}

local null = peeka.json.null
local function v(x) if x == null then return nil end return x end

local function handlers(l)
  local o = {}
  for _, h in ipairs(v(l.handlers) or {}) do o[#o + 1] = h.class .. (h.level ~= "NOTSET" and ("(" .. h.level .. ")") or "") end
  return table.concat(o, ", ")
end

local function show(loggers)
  local t = peeka.table{columns = {"logger", "level", "effective", "propagate", "disabled", "handlers"}}
  for _, l in ipairs(loggers) do
    if not args.name or peeka.glob(args.name, l.name) then
      t:add{l.name, l.level, l.effective_level, tostring(l.propagate), tostring(l.disabled), handlers(l)}
    end
  end
  t:print()
end

local seen = 0
for r in peeka.records{kind = "logger"} do
  if r.action ~= "capture" then
    seen = seen + 1
    if r.error then
      print(string.format("logger %s: error: %s", r.action or "?", r.error))
    elseif r.action == "list" then
      print(string.format("%d loggers (%s)", r.count or 0, r.at or "?"))
      show(v(r.loggers) or {})
    elseif r.action == "set" and r.at == "start" then
      print(string.format("set %s: %s -> %s", r.logger.name, r.previous_level, r.logger.level))
    elseif r.action == "set" then
      print(string.format("at the end: %s is %s (%s)", r.logger.name, r.logger.level,
                          r.restored and "restored" or "left as the program set it"))
    else
      show{r.logger}
    end
  end
end
if seen == 0 and peeka.format == "text" then print("no logger records") end
