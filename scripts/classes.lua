-- classes: what sc and sm found: classes with their file and line, methods
-- with their kind and signature.
local args = peeka.script{
  description = "Classes (sc) and methods (sm) found in the target, with files, lines, kinds and signatures",
  usage = "peeka-analyze ARCHIVE... classes",
}

local null = peeka.json.null
local function v(x) if x == null then return nil end return x end
local function where(x)
  if not v(x.file) then return "" end
  return v(x.line) and string.format("%s:%d", x.file, x.line) or x.file
end

local seen = 0
for r in peeka.records{kind = {"sc", "sm"}} do
  seen = seen + 1
  local more = r.truncated and string.format(" (first %d shown)", #(v(r.classes) or v(r.methods) or {})) or ""
  if r.error then
    print(string.format("%s %s: error: %s", r.kind, r.func_name or "", r.error))
  elseif r.kind == "sc" then
    print(string.format("sc %s: %d classes%s", r.func_name, r.count, more))
    local t = peeka.table{columns = {"class", "bases", "defined at"}}
    for _, c in ipairs(r.classes) do t:add{c.name, table.concat(c.bases, ", "), where(c)} end
    if #t > 0 or peeka.format ~= "text" then t:print() end
  else
    print(string.format("sm %s: %d methods%s", r.func_name, r.count, more))
    local t = peeka.table{columns = {"method", "kind", "signature", "defined at"}}
    for _, m in ipairs(r.methods) do
      t:add{m.class .. "." .. m.name, (m.async and "async " or "") .. m.kind, v(m.signature) or "", where(m)}
    end
    if #t > 0 or peeka.format ~= "text" then t:print() end
  end
end
if seen == 0 and peeka.format == "text" then print("no sc or sm records") end
