-- threads: the thread probe's snapshots, one dump each (like py-spy dump).
local args = peeka.script{
  description = "Every thread of each thread snapshot with its state and Python stack (py-spy dump)",
  usage = "peeka-analyze ARCHIVE... threads [--arg source=true] [--arg thread=GLOB]",
  help = "A snapshot that could not have the GIL (gil_timeout) says which thread held it;\n" ..
         "one read from outside the process (source: remote) which thread holds it.\n" ..
         "Source lines are read from the files when they exist where the report runs.",
  args = {
    {name = "source", type = "boolean", default = true, help = "show each frame's source line when the file is here"},
    {name = "thread", type = "string", help = "only threads whose name matches this glob"},
  },
}

local files = {}
local function source_line(path, lineno)
  if not args.source or type(path) ~= "string" or not lineno then return nil end
  local lines = files[path]
  if lines == nil then
    lines = false
    local f = io.open(path, "r")
    if f then
      lines = {}
      for l in f:lines() do lines[#lines + 1] = l end
      f:close()
    end
    files[path] = lines
  end
  local l = lines and lines[lineno]
  return l and l:match("^%s*(.-)%s*$") or nil
end

local function when(r)
  return os.date("!%Y-%m-%d %H:%M:%S", r.ts_ns // 1000000000) .. string.format(".%03d", r.ts_ns // 1000000 % 1000)
end

local function name_of(t)
  return t.name ~= nil and t.name ~= peeka.null and string.format("%q", t.name) or "(no name)"
end

local function native(t)
  local s = t.state or "?"
  if t.syscall ~= nil and t.syscall ~= peeka.null then s = s .. ": " .. tostring(t.syscall) end
  return s
end

local last, shown = nil, 0
for r in peeka.records{kind = "thread"} do
  local key = r:archive().index .. "/" .. r.probe_id .. "/" .. r.cycle
  if r.gil_timeout then
    print(string.format("Snapshot %d (probe %d) at %s: no GIL within %s ms", r.cycle, r.probe_id, when(r), r.waited_ms))
    local h = r.gil_holder
    if h and h ~= peeka.null then
      print(string.format("  the GIL is held by thread %s %s (native %s), %s%s", tostring(h.thread_id), name_of(h),
                          tostring(h.native_id), native(h), r.gil_holder_from == "guess" and " (a guess)" or ""))
    else
      print("  the thread holding the GIL could not be told")
    end
    for _, t in ipairs(r.tasks or {}) do
      print(string.format("    native %-8s %-24s %s%s", tostring(t.native_id), name_of(t), native(t),
                          t.gil_waiter and "  (waiting for the GIL)" or ""))
    end
    print("")
    last = nil
  elseif r.matched == 0 then
    print(string.format("Snapshot %d (probe %d) at %s: %d threads, none matched --tid/--state", r.cycle,
                        r.probe_id, when(r), r.thread_count))
    print("")
    last = nil
  elseif not args.thread or peeka.glob(args.thread, r.name or "") then
    if key ~= last then
      if last then print("") end
      print(string.format("Snapshot %d (probe %d) at %s: %d threads%s", r.cycle, r.probe_id, when(r), r.thread_count,
                          r.source == "remote" and ", read from outside the process" or ""))
      last = key
    end
    shown = shown + 1
    local daemon = r.daemon == true and ", daemon" or ""
    print(string.format("Thread %s %s (native %s%s): %s%s, %d frames%s", tostring(r.thread_id), name_of(r),
                        tostring(r.native_id), daemon, native(r),
                        r.gil_waiter == true and " (waiting for the GIL)" or "", r.stack_depth,
                        r.holds_gil == true and ", holds the GIL" or ""))
    for _, f in ipairs(r.stack or {}) do
      print(string.format("    %s (%s:%s)", tostring(f["function"]), tostring(f.filename), tostring(f.lineno)))
      local src = source_line(f.filename, f.lineno)
      if src and src ~= "" then print("        " .. src) end
    end
    if r.stack_depth > #(r.stack or {}) then
      print(string.format("    ... %d more", r.stack_depth - #r.stack))
    end
    if r.stack_cut then print("    (the stack ends here: " .. r.stack_cut .. ")") end
  end
end
if shown == 0 and last == nil then print("no thread records in the archive") end
