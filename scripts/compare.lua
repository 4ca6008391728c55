-- compare: per-function cost of BASE and HEAD recordings, a CI gate that
-- does not cry wolf.
--
-- Calls within one recording are not independent samples of the code's
-- speed: machine load, CPU frequency and cache state move them all
-- together, so a test on the calls reads run-to-run noise as a change.
-- With >= 2 recordings per side the judgement is made on one number per
-- recording (its median cost of the function, as pyperf and asv compare
-- processes, not values): Welch's t test on the logarithms of the per-run
-- medians (Yuen's trimmed one from 5 runs a side), whose difference is the
-- log of the ratio of their geometric means, reported with its confidence
-- interval.  With one recording on a
-- side there is no way to tell noise from change: only a change beyond
-- `single_threshold` (2x) is flagged, and the output says so.
local robust = require("robust")
local args = peeka.script{
  description = "Compare BASE and HEAD recordings per function; exits 1 on a regression beyond run-to-run noise (CI gate)",
  usage = "peeka-analyze B1 B2 B3 H1 H2 H3 compare --arg base=3 [--format markdown|json]\n" ..
          "       peeka-analyze BASE.tar.zst HEAD.tar.zst compare   (one run per side: only > 2x is flagged)",
  help = "With >= 2 recordings per side (recommended: 3 or more): each recording gives the function's\n" ..
         "median cost (stat=); change = ratio of the geometric means of those per-run values - 1, with a\n" ..
         "(1-alpha) confidence interval from Welch's t test on their logarithms (from 5 runs a side,\n" ..
         "Yuen's on 20%-trimmed means: one odd run of five cannot move it).  REGRESSED when\n" ..
         "change > threshold, change * BASE's cost > min_delta and p < alpha; improved under the mirror\n" ..
         "rule (ratio < 1/(1+threshold)).  A recording counts for a function when it has >= min_calls\n" ..
         "calls.  reference=GLOB divides each run's statistic by that of those functions in the run.\n" ..
         "stat=min with a reference on a runner where other processes preempt calls (interference only\n" ..
         "adds time), at the price of missing changes that slow only some of the calls.\n" ..
         "With one recording on a side, run-to-run noise cannot be estimated: the calls are pooled and\n" ..
         "only a ratio beyond 1+single_threshold (default 2x) with Mann-Whitney p < alpha is flagged.",
  min_archives = 2,
  args = {
    {name = "base", type = "integer", help = "how many of the archives (the first ones) are BASE; default: half"},
    {name = "threshold", type = "number", default = 0.10,
     help = "relative change that counts with >= 2 recordings per side, 0.10 = 10%"},
    {name = "single_threshold", type = "number", default = 1.0,
     help = "relative change that counts with one recording on a side, 1.0 = 2x"},
    {name = "alpha", type = "number", default = 0.05,
     help = "significance level; the confidence interval is 1-alpha"},
    {name = "min_delta", type = "duration", default = 10000,
     help = "absolute change that counts, default 10us: below it, clock noise dominates"},
    {name = "min_calls", type = "integer", default = 20,
     help = "calls a recording needs for its median to count (one run: calls per side)"},
    {name = "stat", type = "string", default = "p50",
     choices = {"p50", "mean", "min", "p10", "p25", "p75", "p90", "p95", "p99"},
     help = "the per-run statistic compared"},
    {name = "reference", type = "string",
     help = "functions (glob) the change does not touch: each run's statistic is divided by theirs " ..
            "in the same run, cancelling the run's own speed (needs >= 2 recordings per side)"},
    {name = "func", type = "string", help = "only functions matching this glob"},
    {name = "all", type = "boolean", default = true, help = "list every function, not only changed ones"},
  },
}

local n = #peeka.archives
local nbase = args.base or (n // 2)
if n % 2 == 1 and not args.base then
  peeka.usage_error("compare: " .. n .. " archives cannot be split in half; say how many are BASE with --arg base=N")
end
if nbase < 1 or nbase >= n then
  peeka.usage_error(string.format("compare: --arg base=%d leaves no %s archive (%d given)", nbase,
        nbase < 1 and "BASE" or "HEAD", n))
end
if not (args.alpha > 0 and args.alpha < 1) then
  peeka.usage_error("compare: --arg alpha must be between 0 and 1 (got " .. args.alpha .. ")")
end
local nhead = n - nbase
local grouped = nbase >= 2 and nhead >= 2

-- Costs per function in one group per recording (the per-run statistics)
-- and one per side (the one-run rule and the costs shown); with
-- `reference`, the reference functions' costs per recording.
local per_run, ref = {}, {}
local pooled = {peeka.group(), peeka.group()}
for i = 1, n do per_run[i], ref[i] = peeka.group(), peeka.stats() end
local funcs = args.func
if args.func and args.reference then funcs = {args.func, args.reference} end
for r in peeka.records{kind = "watch", location = {"AtExit", "AtExceptionExit"}, func = funcs} do
  local i, f = r:archive().index, r.func_name
  if args.reference and peeka.glob(args.reference, f) then
    ref[i]:add(r.cost_ns)
  elseif not args.func or peeka.glob(args.func, f) then
    per_run[i]:add(f, r.cost_ns)
    pooled[i <= nbase and 1 or 2]:add(f, r.cost_ns)
  end
end

local function stat(s)
  if args.stat == "mean" then return s:mean() end
  if args.stat == "min" then return s:min() end
  return s:p(tonumber(args.stat:sub(2)))
end

local function log_stat(s) return math.log(math.max(stat(s), 1)) end

-- The per-run statistics of f over recordings first..last, as logs; with
-- a reference, minus the log of the reference's statistic in that run
-- (which cancels the run's own speed), and only runs where both have
-- enough calls.
local function run_logs(f, first, last)
  local logs = {}
  for i = first, last do
    local s = per_run[i]:get(f)
    local speed = 0
    if args.reference then speed = ref[i]:count() >= args.min_calls and log_stat(ref[i]) end
    if s and s:count() >= args.min_calls and speed then logs[#logs + 1] = log_stat(s) - speed end
  end
  return logs
end

local function judge_runs(lb, lh)
  local diff, se, df, p = robust.yuen(lh, lb)
  local v = {rule = args.reference and "runs/ref" or "runs", p = p}
  v.change = math.exp(diff) - 1
  local half = se > 0 and peeka.t_quantile(1 - args.alpha / 2, df) * se or 0
  v.ci_low, v.ci_high = math.exp(diff - half) - 1, math.exp(diff + half) - 1
  v.limit = args.threshold
  return v
end

local function judge_pooled(b, h)
  local v = {rule = "one run", p = peeka.mannwhitney(h, b).p}
  local sb, sh = stat(b), stat(h)
  if sb > 0 then v.change = sh / sb - 1 elseif sh > 0 then v.change = math.huge else v.change = 0 end
  v.limit = args.single_threshold
  return v
end

local function verdict(v)
  local up, down = v.change > v.limit, (1 + v.change) * (1 + v.limit) < 1
  -- the absolute change the effect amounts to at BASE's cost (with a
  -- reference, HEAD - BASE of the raw costs still carries the runs' speeds)
  local delta = v.change == math.huge and v.head or v.base * v.change
  if up and delta > args.min_delta and v.p < args.alpha then return "REGRESSED" end
  if down and -delta > args.min_delta and v.p < args.alpha then return "improved" end
  return "unchanged"
end

local function judge(f)
  local b, h = pooled[1]:get(f), pooled[2]:get(f)
  if not b then return {verdict = "only in HEAD"} end
  if not h then return {verdict = "only in BASE"} end
  local lb, lh = run_logs(f, 1, nbase), run_logs(f, nbase + 1, n)
  local v
  if #lb >= 2 and #lh >= 2 then
    v = judge_runs(lb, lh)
  elseif b:count() >= args.min_calls and h:count() >= args.min_calls then
    v = judge_pooled(b, h)
  else
    v = {verdict = "too few calls"}
  end
  v.base_runs, v.head_runs = #lb, #lh
  v.base, v.head = stat(b), stat(h)   -- shown: the statistic of each side's calls
  v.verdict = v.verdict or verdict(v)
  return v
end

local names, seen = {}, {}
for side = 1, 2 do
  for _, k in ipairs(pooled[side]:keys()) do
    if not seen[k] then names[#names + 1] = k; seen[k] = true end
  end
end
table.sort(names)

local function calls(side, f) local s = pooled[side]:get(f) return s and s:count() or 0 end
local results, counts = {}, {regressed = 0, improved = 0, unchanged = 0, not_judged = 0,
                             one_run = 0, runs = 0}
for _, f in ipairs(names) do
  local v = judge(f)
  v.func = f
  results[#results + 1] = v
  local key = ({REGRESSED = "regressed", improved = "improved", unchanged = "unchanged"})[v.verdict]
  counts[key or "not_judged"] = counts[key or "not_judged"] + 1
  if v.rule == "one run" then counts.one_run = counts.one_run + 1 elseif v.rule then counts.runs = counts.runs + 1 end
end

local pct = function(c) return c == math.huge and "new cost" or string.format("%+.1f%%", c * 100) end
local ci_level = string.format("%g%%", (1 - args.alpha) * 100)
local function rule_text()
  local r = {}
  if counts.runs > 0 or grouped then
    r[#r + 1] = string.format("%d BASE vs %d HEAD recordings: a function regressed when the geometric mean of its " ..
      "per-run %s grew by more than %.0f%% and by more than %s, with a t test on the per-run " ..
      "values (Welch's; Yuen's 20%%-trimmed from 5 runs a side) p < %g (%s confidence interval shown); " ..
      "a recording counts when it has >= %d calls.",
      nbase, nhead, args.stat, args.threshold * 100, peeka.duration(args.min_delta),
      args.alpha, ci_level, args.min_calls)
    if args.reference then
      r[#r + 1] = string.format("Each run's %s is divided by that of %s in the same run (the run's own " ..
        "speed), so the change is relative to the reference.", args.stat, args.reference)
    end
  end
  if counts.one_run > 0 or not grouped then
    r[#r + 1] = string.format("One recording on a side%s: run-to-run noise cannot be estimated, so only a " ..
      "change beyond %gx (and %s, Mann-Whitney p < %g, >= %d calls per side) is flagged. Record 3 or " ..
      "more runs per side and pass --arg base=N for a %.0f%% gate.",
      grouped and " for some functions (too few calls per recording)" or "",
      1 + args.single_threshold, peeka.duration(args.min_delta), args.alpha, args.min_calls,
      args.threshold * 100)
  end
  return r
end

local function counts_text()
  return string.format("%d regressed, %d improved, %d unchanged, %d not judged", counts.regressed,
                       counts.improved, counts.unchanged, counts.not_judged)
end

local d = peeka.duration
local function columns(arrow)
  local cols = {}
  if arrow then cols[1] = {name = "", align = "left"} end
  for _, c in ipairs{"function", "base runs", "head runs", "base calls", "head calls",
      {name = "base " .. args.stat, format = d}, {name = "head " .. args.stat, format = d},
      {name = "change", align = "right", format = pct},
      {name = "ci low", align = "right", format = pct}, {name = "ci high", align = "right", format = pct},
      {name = "p-value", align = "right", format = function(p) return string.format("%.2g", p) end},
      "rule", "verdict"} do
    cols[#cols + 1] = c
  end
  return cols
end

local function new_table(title, arrow, only_changed)
  local t = peeka.table{title = title, columns = columns(arrow)}
  for _, v in ipairs(results) do
    local changed = v.verdict == "REGRESSED" or v.verdict == "improved"
    if changed or not only_changed then
      local row = {v.func, v.base_runs, v.head_runs, calls(1, v.func), calls(2, v.func), v.base, v.head,
                   v.change ~= math.huge and v.change or nil, v.ci_low, v.ci_high, v.p, v.rule, v.verdict}
      if arrow then
        table.insert(row, 1, ({REGRESSED = "🔴 ↑", improved = "🟢 ↓"})[v.verdict] or "")
      end
      t:add(row)
    end
  end
  return t
end

local title = string.format("peeka compare: %d BASE vs %d HEAD recording%s, per-run %s cost", nbase, nhead,
                            nhead == 1 and "" or "s", args.stat)
if peeka.format == "json" then
  local doc = peeka.json.decode(new_table(title, false, not args.all):render("json"))
  doc.rule = {mode = grouped and "runs" or "one run", text = table.concat(rule_text(), " "),
              threshold = args.threshold, single_threshold = args.single_threshold, alpha = args.alpha,
              min_delta_ns = args.min_delta, min_calls = args.min_calls, stat = args.stat,
              base_recordings = nbase, head_recordings = nhead}
  doc.counts = {regressed = counts.regressed, improved = counts.improved, unchanged = counts.unchanged,
                not_judged = counts.not_judged, functions = #results}
  print(peeka.json.encode(doc))
elseif peeka.format == "markdown" then
  print("### " .. title .. "\n")
  print("**" .. counts_text() .. "**\n")
  if counts.regressed + counts.improved > 0 then
    io.write(new_table(nil, true, true):render("markdown"))
  else
    print("No function changed beyond the rule.")
  end
  print("")
  print("> " .. table.concat(rule_text(), "\n>\n> "))
  if args.all and #results > 0 then
    print(string.format("\n<details><summary>All %d functions</summary>\n", #results))
    io.write(new_table(nil, false, false):render("markdown"))
    print("\n</details>")
  end
else
  new_table(title, false, not args.all):print()
  print("")
  for _, line in ipairs(rule_text()) do print(line) end
  print(counts_text())
end
if not grouped then
  peeka.warn("one recording on a side: run-to-run noise cannot be estimated; only changes beyond " ..
             string.format("%gx are flagged (record >= 3 runs per side, --arg base=N)", 1 + args.single_threshold))
end
for _, v in ipairs(results) do
  if v.verdict == "REGRESSED" then
    local ci = v.ci_low and string.format(", %s CI %s..%s", ci_level, pct(v.ci_low), pct(v.ci_high)) or ""
    peeka.fail(string.format("regression: %s: %s %s -> %s (%s%s, p=%.2g, %s rule)", v.func, args.stat,
               d(v.base), d(v.head), pct(v.change), ci, v.p, v.rule))
  end
end
