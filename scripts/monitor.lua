-- monitor: the monitor probe's intervals as a table.
local args = peeka.script{
  description = "Monitor intervals per function: calls, failures, fail rate, rt avg/min/max, p50/p95/p99",
  usage = "peeka-analyze ARCHIVE... monitor [--arg func=GLOB]",
  args = {
    {name = "func", type = "string", help = "only functions matching this glob"},
  },
}

local t = peeka.table{columns = {
  {name = "start", align = "left"}, "cycle", {name = "function", align = "left"}, "interval_s",
  "total", "fail", "fail_rate", "rt_avg", "rt_min", "rt_max", "p50", "p95", "p99"}}
for r in peeka.records{kind = "monitor", func = args.func} do
  local start = os.date("!%H:%M:%S", r.ts_ns // 1000000000)
  t:add{start, r.partial and (r.cycle .. "*") or r.cycle, r.func_name, r.interval_s, r.total, r.fail,
        r.fail_rate, r.rt_avg, r.rt_min, r.rt_max, r.p50, r.p95, r.p99}
end
if #t == 0 and peeka.format == "text" then
  print("no monitor records in the archive" .. (#peeka.archives > 1 and "s" or ""))
  return
end
t:print()
if peeka.format == "text" then print("times in ms; * an interval cut short by the end of the recording") end
