-- info: what was recorded, from where, when, for how long, counts, drops,
-- completeness; one block per archive.
peeka.script{
  description = "What each archive recorded: target, time span, probes, record counts, drops, completeness",
  usage = "peeka-analyze ARCHIVE... info",
}

local function iso(ns)
  if not ns then return "?" end
  local s = ns // 1000000000
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03dZ", (ns % 1000000000) // 1000000)
end

local out = {}
local kinds, funcs, first_ts, last_ts

function on_start(info)
  kinds, funcs, first_ts, last_ts = peeka.counter(), peeka.counter(), nil, nil
end

function on_record(r)
  kinds:add(r.kind or "?")
  funcs:add(r.func_name or "?")
  local ts = r.ts_ns
  if ts then
    if not first_ts or ts < first_ts then first_ts = ts end
    if not last_ts or ts > last_ts then last_ts = ts end
  end
end

function on_archive_end(info)
  local s, sum = info.session or {}, info.summary
  local t = s.target or {}
  local start_ns = s.start_ns
  local end_ns = sum and sum.end_ns or last_ts
  local probes = {}
  for _, p in ipairs(s.probes or {}) do
    probes[#probes + 1] = {id = p.id, kind = p.kind, pattern = p.pattern, spec = p.spec,
                           observations = nil}
  end
  if sum and sum.probes then
    for _, sp in ipairs(sum.probes) do
      for _, p in ipairs(probes) do
        if p.id == sp.id then p.observations = sp.observations; p.drops = sp.drops end
      end
    end
  end
  out[#out + 1] = {
    path = info.path, tool = s.tool, tool_version = s.tool_version, mode = s.mode,
    pid = t.pid, python = t.python, exe = t.exe, argv = t.argv, host = s.host,
    start = s.start or iso(start_ns), start_ns = start_ns,
    ["end"] = sum and sum["end"] or iso(end_ns), end_ns = end_ns,
    duration_ns = (start_ns and end_ns) and (end_ns - start_ns) or nil,
    records = info.records, kinds = kinds:table(), functions = #funcs:keys(),
    chunks = sum and sum.chunks, drops = sum and sum.drops, reason = sum and sum.reason,
    complete = info.complete, incomplete = info.incomplete, probes = probes,
    first_record = iso(first_ts), last_record = iso(last_ts),
  }
end

function on_end()
  if peeka.format == "json" then
    print(peeka.json.encode(out))
    return
  end
  for i, a in ipairs(out) do
    if i > 1 then print("") end
    local md = peeka.format == "markdown"
    local function line(k, v)
      if md then print(string.format("- **%s**: %s", k, v)) else print(string.format("  %-10s %s", k, v)) end
    end
    print(md and ("### " .. a.path .. "\n") or a.path)
    line("tool", string.format("%s %s (%s mode)", a.tool or "?", a.tool_version or "?", a.mode or "?"))
    line("target", string.format("pid %s on %s, python %s, %s", tostring(a.pid), tostring(a.host),
                                 tostring(a.python), table.concat(a.argv or {}, " ")))
    line("start", a.start)
    line("end", a["end"] .. (a.duration_ns and ("  (" .. peeka.duration(a.duration_ns) .. ")") or ""))
    local names, ks = {}, {}
    for k in pairs(a.kinds) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do ks[#ks + 1] = string.format("%s %d", k, a.kinds[k]) end
    line("records", string.format("%d%s, %d functions%s", a.records or 0,
         #ks > 0 and (" (" .. table.concat(ks, ", ") .. ")") or "", a.functions,
         a.chunks and string.format(", %d chunks", a.chunks) or ""))
    line("drops", a.drops and tostring(a.drops) or "unknown (no summary)")
    for _, p in ipairs(a.probes) do
      line("probe " .. tostring(p.id), string.format("%s%s", p.spec or ((p.kind or "?") .. " " .. (p.pattern or "?")),
           p.observations and string.format(": %d observations, %s dropped", p.observations,
                                            type(p.drops) == "number" and string.format("%d", p.drops)
                                            or "unknown") or ""))
    end
    line("complete", a.complete and ("yes (ended by " .. tostring(a.reason) .. ")") or ("NO: " .. tostring(a.incomplete)))
  end
end
