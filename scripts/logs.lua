-- logs: the log records `logger --capture` recorded, in order, with their
-- logger, level, thread and message; or counted per logger and level.
local args = peeka.script{
  description = "Log records captured by logger --capture, in order or counted (mode=count)",
  usage = "peeka-analyze ARCHIVE... logs [--arg level=WARNING] [--arg name=GLOB] [--arg mode=count]",
  args = {
    {name = "level", type = "string", help = "only records at this level or above (DEBUG..CRITICAL or a number)"},
    {name = "name", type = "string", help = "only loggers whose name matches this glob"},
    {name = "mode", type = "string", default = "list", choices = {"list", "count"}, help = "list the records or count them"},
  },
}

local levels = {NOTSET = 0, DEBUG = 10, INFO = 20, WARNING = 30, WARN = 30, ERROR = 40, CRITICAL = 50, FATAL = 50}
local min = 0
if args.level then
  min = levels[args.level:upper()] or tonumber(args.level)
  if not min then error("logs: level must be DEBUG, INFO, WARNING, ERROR, CRITICAL or a number") end
end

local null = peeka.json.null
local function v(x) if x == null then return nil end return x end
local counts = peeka.counter()
local n = 0
for r in peeka.records{kind = "logger"} do
  if r.at == "log" and (r.levelno or 0) >= min and (not args.name or peeka.glob(args.name, r.logger or "")) then
    n = n + 1
    if args.mode == "count" then
      counts:add(string.format("%s\t%s", r.logger, r.level))
    else
      local msg = r.message
      if msg == nil then msg = tostring(r.msg) .. " % " .. peeka.json.encode(v(r.args) or peeka.json.array()) end
      local t = os.date("!%H:%M:%S", r.ts_ns // 1000000000) .. string.format(".%03d", (r.ts_ns % 1000000000) // 1000000)
      print(string.format("%s %-8s %s [%s] %s", t, r.level, r.logger, r.thread_name or tostring(r.thread_id), msg))
      if r.throwExp then print("    " .. r.throwExp) end
    end
  end
end
if args.mode == "count" then
  local t = peeka.table{columns = {"logger", "level", "records"}}
  for _, k in ipairs(counts:keys()) do
    local logger, level = k:match("^(.-)\t(.*)$")
    t:add{logger, level, counts:get(k)}
  end
  t:print()
elseif n == 0 and peeka.format == "text" then
  print("no log records captured")
end
