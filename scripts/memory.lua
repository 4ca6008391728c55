-- memory: the memory probe's snapshots: rss and vms, the collector's counts,
-- live objects by type, and tracemalloc's largest allocation sites (top) or
-- their growth over the recording (diff).
local args = peeka.script{
  description = "The memory probe's snapshots: rss, vms, gc, objects by type, allocation sites (top, diff)",
  usage = "peeka-analyze ARCHIVE... memory [--arg n=20]",
  args = {
    {name = "n", type = "integer", default = 20, help = "rows shown per table"},
  },
}
if args.n < 1 then error("memory: n must be at least 1") end

local null = peeka.json.null
local function v(x) if x == null then return nil end return x end
local function bytes(n) n = v(n) if not n or n < 0 then return "?" end return peeka.bytes(n) end
local function list(t) local o = {} for i, x in ipairs(v(t) or {}) do o[i] = tostring(x) end return table.concat(o, "/") end

local seen = 0
for r in peeka.records{kind = "memory"} do
  seen = seen + 1
  local start = r:archive().session.start_ns
  -- a snapshot at install is taken a moment before peeka-rec's start_ns
  local at = (start and r.ts_ns) and string.format("+%.3fs", math.max(0, r.ts_ns - start) / 1e9) or ""
  print(string.format("memory %s at %s (%s)", r.action or "?", at, r.at or "?"))
  if r.error then
    print("  error: " .. r.error)
  else
    print(string.format("  rss %s  vms %s", bytes(r.rss), bytes(r.vms)))
    if r.rss_start then
      print(string.format("  rss at the start %s, change %s", bytes(r.rss_start),
                          (r.rss - r.rss_start >= 0 and "+" or "-") .. peeka.bytes(math.abs(r.rss - r.rss_start))))
    end
    local gc = v(r.gc)
    if gc then
      print(string.format("  gc %s  counts %s  thresholds %s%s", gc.enabled and "enabled" or "disabled",
                          list(gc.count), list(gc.threshold),
                          v(gc.garbage) and ("  garbage " .. gc.garbage) or ""))
      if v(gc.stats) then
        local t = peeka.table{columns = {"generation", "collections", "collected", "uncollectable"}}
        for i, g in ipairs(gc.stats) do t:add{i - 1, g.collections, g.collected, g.uncollectable} end
        t:print()
      end
    end
    local tm = v(r.tracemalloc)
    if tm then
      if tm.tracing then
        print(string.format("  tracemalloc tracing%s: current %s, peak %s",
                            tm.started_by_peeka and " (started for the recording)" or "",
                            bytes(tm.current), bytes(tm.peak)))
      else
        print("  tracemalloc off")
      end
    end
    if v(r.types) then
      print(string.format("  %d objects tracked by the collector", r.objects or 0))
      local t = peeka.table{columns = {"type", "count"}}
      for i, row in ipairs(r.types) do if i <= args.n then t:add{row.type, row.count} end end
      t:print()
    end
    local sites = v(r.top) or v(r.diff)
    if sites then
      print(string.format("  %s traced in %d allocation sites", bytes(r.traced_size), r.sites or 0))
      local cols = {"site", {name = "size", format = peeka.bytes}, "blocks"}
      if r.diff then cols = {"site", "growth", "blocks +/-", {name = "size", format = peeka.bytes}, "blocks"} end
      local t = peeka.table{columns = cols}
      for i, s in ipairs(sites) do
        if i > args.n then break end
        local site = string.format("%s:%s", v(s.file) or "?", tostring(v(s.line) or "?"))
        if r.diff then
          local g = s.size_diff
          t:add{site, (g >= 0 and "+" or "-") .. peeka.bytes(math.abs(g)), s.count_diff, s.size, s.count}
        else
          t:add{site, s.size, s.count}
        end
      end
      t:print()
    end
  end
end
if seen == 0 and peeka.format == "text" then print("no memory records") end
