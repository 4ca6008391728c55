-- flamegraph: a self-contained interactive SVG flame graph (no network:
-- the script is embedded): click a frame to zoom, Search (or Ctrl-F, or
-- FILE.svg#search=REGEX) highlights matching frames and says their share,
-- hovering shows a frame's time and share.  Trace trees weigh self time,
-- watch calls their cost (one frame each; not those inside a traced call,
-- already in its tree: profile.records), stack records one call each;
-- other kinds plug in through scripts/lib/profile.lua.
--
-- With --arg diff=N the first N archives are BASE and the graph is HEAD's
-- (the others), each frame coloured by how its self weight changed: red
-- grew, blue shrank, white unchanged, the deepest colour for the largest
-- change (with normalize=true BASE is first scaled to HEAD's total, as
-- flamegraph.pl's difffolded -n).  Frames only in BASE (functions gone in
-- HEAD) are drawn at BASE's weight, blue as their self weight shrank to
-- 0, outlined dashed (class "gone"): a frame is as wide as its HEAD weight
-- plus the BASE-only frames under it.
local profile = require("profile")
local args = peeka.script{
  description = "Interactive SVG flame graph (search, zoom, tooltips) of trace trees, stacks and calls; diff=N: differential",
  usage = "peeka-analyze ARCHIVE... flamegraph [--arg out=FILE.svg] [--arg weight=time|calls]\n" ..
          "       peeka-analyze BASE HEAD flamegraph --arg diff=1 > diff.svg",
  min_archives = 1,
  args = {
    {name = "out", type = "string", help = "write the SVG to this file instead of standard output"},
    {name = "func", type = "string", help = "only records of functions matching this glob"},
    {name = "diff", type = "integer", help = "the first N archives are BASE: draw HEAD coloured by the change " ..
     "(red slower, blue faster); frames only in BASE drawn at BASE's width, dashed (self fell to 0: blue)"},
    {name = "weight", type = "string", default = "auto", choices = {"auto", "time", "calls", "samples"},
     help = "what a frame's width is: time (traces, watch calls outside traced calls), calls (stack records), " ..
            "samples; auto: the first of these the archives have"},
    {name = "normalize", type = "boolean", default = false,
     help = "diff: scale BASE to HEAD's total first (compare shares, not amounts)"},
    {name = "title", type = "string", help = "the graph's title (default: Flame graph / Differential flame graph)"},
    {name = "width", type = "integer", default = 1200, help = "width in pixels"},
  },
}

local narch = #peeka.archives
if args.diff and (args.diff < 1 or args.diff >= narch) then
  peeka.usage_error(string.format("flamegraph: --arg diff=%d needs BASE and HEAD archives (%d given)",
                                  args.diff, narch))
end
if args.width < 200 then peeka.usage_error("flamegraph: --arg width must be at least 200 pixels") end

local sides = {head = {}, base = {}}
for r in profile.records{func = args.func} do
  local side = (args.diff and r:archive().index <= args.diff) and sides.base or sides.head
  profile.stacks(r, function(frames, w, unit)
    side[unit] = side[unit] or profile.tree()
    side[unit]:add(frames, w)
  end)
end

local unit = ({time = "ns", calls = "calls", samples = "samples"})[args.weight]
if not unit then
  for _, u in ipairs{"ns", "samples", "calls"} do
    if sides.head[u] then unit = u; break end
  end
end
local tree = unit and sides.head[unit]
local base = unit and sides.base[unit]

local function amount(w)
  if unit == "ns" then return peeka.duration(math.floor(w + 0.5)) end
  return string.format("%d %s", math.floor(w + 0.5), unit or "")
end

local function xml(s)
  return (tostring(s):gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                         ['"'] = "&quot;", ["'"] = "&#39;"}))
end

-- flamegraph.pl's warm palette, a stable colour per function name.
local function warm(name)
  local h = 0
  for i = 1, #name do h = (h * 31 + name:byte(i)) % 1000003 end
  local v1, v2 = (h % 1000) / 1000, ((h // 1000) % 1000) / 1000
  return string.format("rgb(%d,%d,%d)", 205 + math.floor(50 * v2), math.floor(230 * v1), math.floor(55 * v2))
end

local function diff_colour(delta, maxd)
  if maxd <= 0 or delta == 0 then return "rgb(250,250,250)" end
  local c = 250 - math.floor(190 * math.min(1, math.abs(delta) / maxd))
  return delta > 0 and string.format("rgb(250,%d,%d)", c, c) or string.format("rgb(%d,%d,250)", c, c)
end

local FRAME_H, PAD, TOP, BOTTOM = 16, 10, 48, 28
local usable = args.width - 2 * PAD
local frames, max_depth, max_delta = {}, 0, 0
local scale = (args.normalize and base and tree and base:total() > 0) and tree:total() / base:total() or 1

-- diff: what only BASE has is drawn too (its HEAD weight is 0), at BASE's
-- weight, so a frame's width is its HEAD weight plus that of the BASE-only
-- frames below it.  h.gone: that BASE-only weight under HEAD node h.
local function gone(h, b)
  if not b then return 0 end
  if not h then return b.total * scale end
  local g = 0
  for _, c in ipairs(b.children) do g = g + gone(h.index[c.name], c) end
  h.gone = g
  return g
end
local function weight(h, b) return h and h.total + (h.gone or 0) or b.total * scale end

-- Frames in drawing order with their place as fractions of the total;
-- h is the HEAD node (nil: only in BASE), b the BASE one (nil: new).
local all
local function layout(h, b, depth, x)
  local w = weight(h, b) / all
  if w * usable < 0.1 then return end
  local f = {node = h or {name = b.name, total = 0, self = 0, children = {}}, gone = not h,
             depth = depth, x = x, w = w}
  if args.diff then
    f.base_total, f.base_self = b and b.total * scale or 0, b and b.self * scale or 0
    f.delta = f.node.self - f.base_self
    max_delta = math.max(max_delta, math.abs(f.delta))
  end
  frames[#frames + 1] = f
  max_depth = math.max(max_depth, depth)
  local kids = {}
  for _, c in ipairs(h and h.children or {}) do kids[#kids + 1] = {c.name, c, b and b.index[c.name]} end
  for _, c in ipairs(b and b.children or {}) do
    if not (h and h.index[c.name]) then kids[#kids + 1] = {c.name, nil, c} end
  end
  table.sort(kids, function(p, q) return p[1] < q[1] end)     -- alphabetical, as flamegraph.pl
  local cx = x
  for _, k in ipairs(kids) do
    layout(k[2], k[3], depth + 1, cx)
    cx = cx + weight(k[2], k[3]) / all
  end
end
if tree then
  local b = base and base.root
  gone(tree.root, b)
  all = weight(tree.root)
  layout(tree.root, b, 0, 0)
end

local function tooltip(f)
  local n = f.node
  if f.gone then
    return string.format("%s\nonly in BASE: %s, removed in HEAD (drawn at BASE's width, %.2f%% of all)",
                         n.name, amount(f.base_total), 100 * f.w)
  end
  local s = string.format("%s\n%s, %.2f%% of all", n.name, amount(n.total), 100 * f.w)
  if n.self > 0 and #n.children > 0 then s = s .. string.format(" (self %s)", amount(n.self)) end
  if args.diff then
    local change = f.base_total > 0 and string.format("%+.1f%%", 100 * (n.total / f.base_total - 1)) or "new"
    s = s .. string.format("\nBASE %s -> HEAD %s (%s); self %+.1f%% of the graph", amount(f.base_total),
                           amount(n.total), change, 100 * f.delta / tree:total())
  end
  return s
end

local height = TOP + (max_depth + 1) * FRAME_H + BOTTOM
local title = args.title or (args.diff and "Differential flame graph" or "Flame graph")
local subtitle
if not tree then
  subtitle = "no stacks: record trace, stack or watch probes"
elseif args.diff then
  subtitle = string.format("HEAD: %s (%d archive%s) against BASE (%d), red slower, blue faster, dashed only in BASE",
                           amount(tree:total()), narch - args.diff, narch - args.diff == 1 and "" or "s", args.diff)
else
  subtitle = string.format("%s in %d archive%s, width = %s", amount(tree:total()), narch, narch == 1 and "" or "s",
                           unit == "ns" and "time" or unit)
end

local out = {}
local function put(...) for _, s in ipairs{...} do out[#out + 1] = s end end
put(string.format('<?xml version="1.0" standalone="no"?>\n' ..
  '<svg version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" ' ..
  'id="peeka-flamegraph" data-width="%d" data-pad="%d">\n', args.width, height, args.width, height, args.width, PAD))
put([[<style>
text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }
#title { font-size: 17px; text-anchor: middle; }
#sub, #details, #matched { font-size: 12px; fill: #444; }
.btn { cursor: pointer; fill: #225; }
g.f { cursor: pointer; }
g.f text { font-size: 11px; pointer-events: none; }
g.f:hover rect { stroke: #000; stroke-width: 0.5; }
g.parent rect { opacity: 0.6; }
g.gone rect { stroke: #33c; stroke-width: 1; stroke-dasharray: 3 2; }
</style>
]])
put(string.format('<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f0"/>\n', args.width, height))
put(string.format('<text id="title" x="%d" y="20">%s</text>\n', args.width // 2, xml(title)))
put(string.format('<text id="sub" x="%d" y="38">%s</text>\n', PAD, xml(subtitle)))
put(string.format('<text id="unzoom" class="btn" x="%d" y="20" style="opacity:0">Reset zoom</text>\n', PAD))
put(string.format('<text id="search" class="btn" x="%d" y="20" text-anchor="end">Search</text>\n',
                  args.width - PAD))
put(string.format('<text id="matched" x="%d" y="%d" text-anchor="end"></text>\n', args.width - PAD, height - 10))
put(string.format('<text id="details" x="%d" y="%d"></text>\n', PAD, height - 10))
put('<g id="frames">\n')
for _, f in ipairs(frames) do
  local fill = args.diff and diff_colour(f.delta, max_delta) or warm(f.node.name)
  local x, w = PAD + f.x * usable, f.w * usable
  local y = TOP + (max_depth - f.depth) * FRAME_H
  local chars = math.floor((w - 6) / 7)
  local label = f.node.name
  if chars < 3 then label = "" elseif #label > chars then label = label:sub(1, chars - 2) .. ".." end
  put(string.format('<g class="%s" data-n="%s" data-d="%d" data-x="%.9f" data-w="%.9f" data-c="%s">' ..
    '<title>%s</title><rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2" fill="%s"/>' ..
    '<text x="%.2f" y="%d">%s</text></g>\n', f.gone and "f gone" or "f", xml(f.node.name), f.depth, f.x, f.w,
    fill, xml(tooltip(f)), x, y, w, FRAME_H - 1, fill, x + 3, y + FRAME_H - 4, xml(label)))
end
put('</g>\n<script type="text/ecmascript"><![CDATA[\n', [[
(function () {
  var svg = document.getElementById("peeka-flamegraph");
  var W = +svg.getAttribute("data-width"), PAD = +svg.getAttribute("data-pad"), U = W - 2 * PAD;
  var frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
  var details = document.getElementById("details"), matched = document.getElementById("matched");
  var unzoomBtn = document.getElementById("unzoom"), searchBtn = document.getElementById("search");
  function label(g, w) {
    var n = g.getAttribute("data-n"), c = Math.floor((w - 6) / 7);
    g.lastChild.textContent = c < 3 ? "" : (n.length <= c ? n : n.slice(0, c - 2) + "..");
  }
  function place(g, x, w) {
    var r = g.querySelector("rect"), px = PAD + x * U;
    r.setAttribute("x", px);
    r.setAttribute("width", w * U);
    g.lastChild.setAttribute("x", px + 3);
    label(g, w * U);
    g.style.display = w * U < 0.1 ? "none" : "";
  }
  function num(g, k) { return +g.getAttribute("data-" + k); }
  function zoom(g) {
    var x0 = num(g, "x"), w0 = num(g, "w"), d0 = num(g, "d"), e = 1e-9;
    frames.forEach(function (f) {
      var x = num(f, "x"), w = num(f, "w"), d = num(f, "d");
      if (d < d0 && x <= x0 + e && x + w >= x0 + w0 - e) {
        place(f, 0, 1);
        f.classList.add("parent");
      } else if (d >= d0 && x >= x0 - e && x + w <= x0 + w0 + e) {
        place(f, (x - x0) / w0, w / w0);
        f.classList.remove("parent");
      } else {
        f.style.display = "none";
      }
    });
    unzoomBtn.style.opacity = d0 > 0 ? 1 : 0;
  }
  function unzoom() {
    frames.forEach(function (f) { place(f, num(f, "x"), num(f, "w")); f.classList.remove("parent"); });
    unzoomBtn.style.opacity = 0;
  }
  function search(term) {
    var re = null, spans = [];
    if (term) { try { re = new RegExp(term); } catch (err) { matched.textContent = "bad regular expression"; return 0; } }
    frames.forEach(function (f) {
      var hit = re && re.test(f.getAttribute("data-n"));
      f.querySelector("rect").setAttribute("fill", hit ? "rgb(230,0,230)" : f.getAttribute("data-c"));
      f.setAttribute("data-match", hit ? "1" : "0");
      if (hit) spans.push([num(f, "x"), num(f, "w")]);
    });
    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var share = 0, end = -1;
    spans.forEach(function (s) { if (s[0] >= end - 1e-12) { share += s[1]; end = s[0] + s[1]; } });
    matched.textContent = re ? "Matched: " + (100 * share).toFixed(2) + "% (" + spans.length + " frames)" : "";
    searchBtn.textContent = re ? "Clear search" : "Search";
    return share;
  }
  frames.forEach(function (f) {
    f.addEventListener("click", function () { zoom(f); });
    f.addEventListener("mouseover", function () { details.textContent = f.querySelector("title").textContent.replace(/\n/g, " | "); });
    f.addEventListener("mouseout", function () { details.textContent = ""; });
  });
  unzoomBtn.addEventListener("click", unzoom);
  function ask() {
    if (searchBtn.textContent !== "Search") { search(""); return; }
    var t = window.prompt("Search frames (regular expression)", "");
    if (t) search(t);
  }
  searchBtn.addEventListener("click", ask);
  window.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); ask(); }
  });
  window.peekaFlamegraph = {search: search, zoom: zoom, unzoom: unzoom};
  // FILE.svg#search=REGEX&zoom=REGEX: a link to a search, or to the
  // outermost frame whose name matches, zoomed.
  var m = /[#&]search=([^&]*)/.exec(location.hash);
  if (m) search(decodeURIComponent(m[1]));
  var z = /[#&]zoom=([^&]*)/.exec(location.hash);
  if (z) {
    var zre = new RegExp(decodeURIComponent(z[1]));
    var at = frames.filter(function (f) { return zre.test(f.getAttribute("data-n")); })
                   .sort(function (a, b) { return num(a, "d") - num(b, "d"); })[0];
    if (at) zoom(at);
  }
})();
]], ']]></script>\n</svg>\n')

local svg = table.concat(out)
if args.out then
  peeka.write_file(args.out, svg)
else
  io.write(svg)
end
