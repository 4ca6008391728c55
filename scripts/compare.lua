-- compare: per-function cost comparison of BASE and HEAD recordings with a
-- noise-aware rule.  A function regressed only when its cost grew beyond
-- the threshold AND by more than min_delta in absolute terms (sub-
-- microsecond functions move by tens of percent from one run to the next
-- with clock and scheduling noise alone) AND the difference is
-- statistically significant (Mann-Whitney U, two-sided) AND both sides
-- have enough calls.
local args = peeka.script{
  description = "Compare BASE and HEAD recordings per function; exits 1 on a significant regression (CI gate)",
  usage = "peeka-analyze BASE.tar.zst HEAD.tar.zst compare [--arg threshold=0.10] [--format markdown]\n" ..
          "       peeka-analyze B1 B2 H1 H2 compare --arg base=2   (groups of recordings)",
  help = "change = HEAD statistic / BASE statistic - 1 (the median by default).  A function\n" ..
         "regressed when change > threshold, HEAD - BASE > min_delta, the Mann-Whitney U\n" ..
         "p-value < alpha and both sides have at least min_calls calls; it improved under\n" ..
         "the mirror rule.",
  min_archives = 2,
  args = {
    {name = "base", type = "integer", help = "how many of the archives (first ones) are BASE; default: half"},
    {name = "threshold", type = "number", default = 0.10, help = "relative change that counts, 0.10 = 10%"},
    {name = "alpha", type = "number", default = 0.01, help = "significance level of the Mann-Whitney U test"},
    {name = "min_delta", type = "duration", default = 10000,
     help = "absolute change that counts, default 10us: below it, run-to-run noise dominates"},
    {name = "min_calls", type = "integer", default = 20, help = "fewer calls on either side: not judged"},
    {name = "stat", type = "string", default = "p50", choices = {"p50", "mean", "p90", "p95", "p99"},
     help = "the statistic compared"},
    {name = "func", type = "string", help = "only functions matching this glob"},
    {name = "all", type = "boolean", default = true, help = "list every function, not only changed ones"},
  },
}

local n = #peeka.archives
local nbase = args.base or (n // 2)
if n % 2 == 1 and not args.base then
  error("compare: " .. n .. " archives cannot be split in half; say how many are BASE with --arg base=N", 0)
end
if nbase < 1 or nbase >= n then
  error(string.format("compare: --arg base=%d leaves no %s archive (%d given)", nbase,
        nbase < 1 and "BASE" or "HEAD", n), 0)
end

local function collect(first, last)
  local g = peeka.group()
  local list = {}
  for i = first, last do list[#list + 1] = i end
  for r in peeka.records{archive = list, kind = "watch", location = {"AtExit", "AtExceptionExit"},
                         func = args.func} do
    g:add(r.func_name, r.cost_ns)
  end
  return g
end
local base, head = collect(1, nbase), collect(nbase + 1, n)

local function stat(s)
  if args.stat == "mean" then return s:mean() end
  return s:p(tonumber(args.stat:sub(2)))
end

local names, seen = {}, {}
for _, k in ipairs(base:keys()) do names[#names + 1] = k; seen[k] = true end
for _, k in ipairs(head:keys()) do if not seen[k] then names[#names + 1] = k end end
table.sort(names)

local rows, regressions = {}, {}
for _, f in ipairs(names) do
  local b, h = base:get(f), head:get(f)
  local row = {f, b and b:count() or 0, h and h:count() or 0, b and stat(b), h and stat(h)}
  local verdict, change, p = "", nil, nil
  if not b then verdict = "only in HEAD"
  elseif not h then verdict = "only in BASE"
  else
    local sb, sh = stat(b), stat(h)
    change = sb > 0 and (sh / sb - 1) or (sh > 0 and math.huge or 0)
    p = peeka.mannwhitney(h, b).p
    if b:count() < args.min_calls or h:count() < args.min_calls then
      verdict = "too few calls"
    elseif change > args.threshold and sh - sb > args.min_delta and p < args.alpha then
      verdict = "REGRESSED"
      regressions[#regressions + 1] = string.format("%s: %s %s -> %s (%+.1f%%, p=%.2g)", f, args.stat,
        peeka.duration(sb), peeka.duration(sh), change * 100, p)
    elseif change < -args.threshold and sb - sh > args.min_delta and p < args.alpha then
      verdict = "improved"
    else
      verdict = "unchanged"
    end
  end
  row[6] = change ~= math.huge and change or nil   -- numbers in JSON; the columns' format shapes text
  row[7] = p
  row[8] = verdict
  if args.all or verdict == "REGRESSED" or verdict == "improved" then rows[#rows + 1] = row end
end

local d = peeka.duration
local t = peeka.table{
  title = string.format("peeka compare: %d BASE vs %d HEAD archive%s, %s cost, threshold %.0f%%, alpha %g",
                        nbase, n - nbase, n - nbase == 1 and "" or "s", args.stat, args.threshold * 100, args.alpha),
  columns = {"function", "base calls", "head calls", {name = "base " .. args.stat, format = d},
             {name = "head " .. args.stat, format = d},
             {name = "change", align = "right", format = function(c) return string.format("%+.1f%%", c * 100) end},
             {name = "p-value", align = "right", format = function(v) return string.format("%.2g", v) end},
             "verdict"}}
for _, r in ipairs(rows) do t:add(r) end
t:print()
if #regressions > 0 then
  for _, msg in ipairs(regressions) do peeka.fail("regression: " .. msg) end
elseif peeka.format ~= "json" then
  print(string.format("\nno regression beyond %.0f%% (alpha %g, at least %d calls per side)",
                      args.threshold * 100, args.alpha, args.min_calls))
end
