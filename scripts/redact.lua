-- redact: the recorder's redaction rules applied to an archive already
-- recorded (say with --no-default-redact), written as a new archive that
-- is safe to attach to a bug report.  Every record is kept, in order; only
-- the values a rule names change (docs/format.md "Redaction").
local args = peeka.script{
  description = "Write a copy of an archive with the values of secret-looking keys replaced by \"[redacted]\"",
  usage = "peeka-analyze ARCHIVE redact --arg out=CLEAN.tar.zst [--arg keys=REGEX] [--arg defaults=false]",
  max_archives = 1,
  args = {
    {name = "out", type = "string", help = "the archive to write (required; created 0600)"},
    {name = "keys", type = "string",
     help = "one more rule: a POSIX extended regex, any case, searched in key, parameter and attribute names"},
    {name = "defaults", type = "boolean", default = true,
     help = "also apply the default rule " .. peeka.redact_default},
  },
}
if not args.out then error("redact needs --arg out=FILE.tar.zst", 0) end
local src = peeka.archives[1]
if args.out == src.path then error("redact writes a new archive: --arg out must not be " .. src.path, 0) end

local rules = {}
if args.defaults then rules[#rules + 1] = peeka.redact_default end
if args.keys then rules[#rules + 1] = args.keys end
if #rules == 0 then error("redact: no rule left (--arg defaults=false without --arg keys=REGEX)", 0) end
local rd = peeka.redactor(rules)

-- session.json: what was redacted afterwards, and the command line's own
-- secrets (`--password x`, `token=x`), as peeka-rec hides them
local session = peeka.json.decode(peeka.json.encode(src.session))
local target = type(session.target) == "table" and session.target or nil
if target and type(target.argv) == "table" then
  local hide_next = false
  for i, word in ipairs(target.argv) do
    if type(word) == "string" then
      target.argv[i] = hide_next and peeka.redacted or rd:text(word)
      hide_next = not hide_next and rd:option(word)
    end
  end
end
local redaction = type(session.redaction) == "table" and session.redaction
                  or {default = false, rules = peeka.json.array(), replacement = peeka.redacted}
redaction.offline = type(redaction.offline) == "table" and redaction.offline or {}
redaction.offline[#redaction.offline + 1] = {tool = "peeka-analyze", tool_version = peeka.version,
                                             rules = rd:rules()}
session.redaction = redaction

-- watch --record: an expression that reads a name, attribute or key a
-- rule matches is hidden, as the agent does; so is one that reads params,
-- kwargs or throwExp, or calls .values()/.items(), since what the call
-- passed is no longer known here
local function reads_hidden(expr)
  local i, n = 1, #expr
  while i <= n do
    local c = expr:sub(i, i)
    if c == "'" or c == '"' then
      local q = expr:sub(i, i + 2) == c:rep(3) and c:rep(3) or c
      local j, body = i + #q, {}
      while j <= n and expr:sub(j, j + #q - 1) ~= q do
        if expr:sub(j, j) == "\\" then j = j + 1 end
        body[#body + 1] = expr:sub(j, j)
        j = j + 1
      end
      if rd:key(table.concat(body)) then return true end
      i = j + #q
    else
      local name = expr:match("^[%a_\128-\255][%w_\128-\255]*", i)
      if name then
        if rd:key(name) or name == "params" or name == "kwargs" or name == "throwExp" or
           ((name == "values" or name == "items") and expr:match("^%s*%(", i + #name)) then
          return true
        end
        i = i + #name
      else
        i = i + 1
      end
    end
  end
  return false
end

local record_hidden = {}   -- probe id -> bit mask of hidden record elements
for _, p in ipairs(type(session.probes) == "table" and session.probes or {}) do
  local exprs = type(p.options) == "table" and p.options.record
  if type(exprs) == "table" and type(p.id) == "number" then
    local mask = 0
    for k, e in ipairs(exprs) do
      if k <= 64 and (type(e) ~= "string" or reads_hidden(e)) then mask = mask | (1 << (k - 1)) end
    end
    record_hidden[p.id] = mask
  end
end

local w = peeka.archive_writer(args.out)
w:member("session.json", peeka.json.encode(session))
local per_probe, count, bytes, values, unnamed = {}, 0, 0, 0, 0
local batch, nb = {}, 0
for r in peeka.records() do
  local line, n, no_names = rd:line(r:json(), record_hidden[r.probe_id] or 0)
  values = values + n
  if no_names then unnamed = unnamed + 1 end
  nb = nb + 1
  batch[nb] = line
  count = count + 1
  bytes = bytes + #line + 1
  local p = r.probe_id
  if p then per_probe[p] = (per_probe[p] or 0) + 1 end
  if nb >= 1000 then
    w:append(table.concat(batch, "\n", 1, nb) .. "\n")
    nb = 0
  end
end
if nb > 0 then w:append(table.concat(batch, "\n", 1, nb) .. "\n") end
if unnamed > 0 then
  peeka.warn(string.format("%d records have positional arguments without param_names (an older "
                           .. "peeka recorded them): those arguments were all redacted", unnamed))
end

-- summary.json: the source's, with this archive's sizes; the records are
-- the same ones, so the counts per probe still add up
local summary = src.summary and peeka.json.decode(peeka.json.encode(src.summary)) or nil
if not summary then
  local probes, ids = {}, {}
  for id in pairs(per_probe) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do
    probes[#probes + 1] = {id = id, observations = per_probe[id], drops = peeka.json.null,
                           condition_errors = peeka.json.null, installed = peeka.json.null,
                           pending = peeka.json.null}
  end
  summary = {reason = "incomplete", drops = peeka.json.null, target_exit = peeka.json.null,
             probes = #probes > 0 and probes or peeka.json.array()}
end
summary.complete = src.complete
summary.records = count
summary.chunks = w:chunks()
summary.bytes_jsonl = bytes
w:close(peeka.json.encode(summary))
if peeka.format == "json" then
  print(peeka.json.encode{out = args.out, records = count, values_redacted = values, rules = rd:rules()})
else
  print(string.format("wrote %s: %d records, %d values redacted", args.out, count, values))
end
