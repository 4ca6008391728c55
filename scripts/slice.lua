-- slice: a smaller archive by time, function, thread, cost or kind, that
-- peeka-analyze reads again.  Records are copied byte for byte.
local args = peeka.script{
  description = "Write a smaller archive: records filtered by time, function, thread, cost, kind or errors",
  usage = "peeka-analyze ARCHIVE... slice --arg out=SMALL.tar.zst [--arg func=GLOB] [--arg from=10s] ...",
  args = {
    {name = "out", type = "string", help = "the archive to write (required)"},
    {name = "func", type = "string", help = "functions matching this glob"},
    {name = "thread", type = "string", help = "thread names matching this glob"},
    {name = "kind", type = "string", help = "watch, trace, stack or monitor"},
    {name = "min_cost", type = "duration", help = "calls at least this slow, e.g. 10ms"},
    {name = "max_cost", type = "duration", help = "calls at most this slow"},
    {name = "from", type = "duration", help = "from this long after the recording started, e.g. 30s"},
    {name = "to", type = "duration", help = "until this long after the recording started"},
    {name = "errors", type = "boolean", help = "true: failing calls only; false: successful calls only"},
  },
}
if not args.out then error("slice needs --arg out=FILE.tar.zst", 0) end

local filter = {func = args.func, thread = args.thread, kind = args.kind, min_cost_ns = args.min_cost,
                max_cost_ns = args.max_cost, errors = args.errors}
if args.from then filter.from = args.from / 1e9 end
if args.to then filter.to = args.to / 1e9 end

local first = peeka.archives[1]
local session = peeka.json.decode(peeka.json.encode(first.session))
local sources = {}
for _, a in ipairs(peeka.archives) do sources[#sources + 1] = a.path end
session.sliced_from = {archives = sources, filter = {func = args.func, thread = args.thread, kind = args.kind,
                       min_cost_ns = args.min_cost, max_cost_ns = args.max_cost, from_ns = args.from,
                       to_ns = args.to, errors = args.errors}}

local w = peeka.archive_writer(args.out)
w:member("session.json", peeka.json.encode(session))
local per_probe, count, bytes, last_ts = {}, 0, 0, nil
local batch, nb = {}, 0
for r in peeka.records(filter) do
  local line = r:json()
  nb = nb + 1
  batch[nb] = line
  count = count + 1
  bytes = bytes + #line + 1
  local p = r.probe_id
  if p then per_probe[p] = (per_probe[p] or 0) + 1 end
  local ts = r.ts_ns
  if ts and (not last_ts or ts > last_ts) then last_ts = ts end
  if nb >= 1000 then
    w:append(table.concat(batch, "\n", 1, nb) .. "\n")
    nb = 0
  end
end
if nb > 0 then w:append(table.concat(batch, "\n", 1, nb) .. "\n") end

local complete, probes = true, {}
for _, a in ipairs(peeka.archives) do complete = complete and a.complete end
local ids = {}
for id in pairs(per_probe) do ids[#ids + 1] = id end
table.sort(ids)
for _, id in ipairs(ids) do
  probes[#probes + 1] = {id = id, observations = per_probe[id], drops = 0, condition_errors = 0,
                         installed = peeka.json.array(), pending = false}
end
local src_sum = first.summary or {}
local chunks = w:chunks()
w:close(peeka.json.encode{
  end_ns = src_sum.end_ns or last_ts, ["end"] = src_sum["end"], reason = "slice", complete = complete,
  records = count, chunks = chunks, bytes_jsonl = bytes, drops = 0,
  probes = #probes > 0 and probes or peeka.json.array(), target_exit = peeka.json.null,
})
if peeka.format ~= "json" then
  print(string.format("wrote %s: %d records from %d archive%s", args.out, count, #peeka.archives,
                      #peeka.archives == 1 and "" or "s"))
end
