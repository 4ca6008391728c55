-- robust: statistics one odd value cannot move, for a handful of per-run
-- numbers (require("robust")); compare judges groups of recordings with
-- them.
local robust = {}

-- The 20%-trimmed mean of xs (sorted in place), the squared standard
-- error of it from the winsorized variance, and how many values it kept
-- (Wilcox, "Introduction to Robust Estimation and Hypothesis Testing",
-- 3.2 and 5.3).  Fewer than 5 values: nothing is trimmed.
function robust.trimmed(xs)
  table.sort(xs)
  local n = #xs
  local g = math.floor(0.2 * n)
  local h = n - 2 * g
  local function wins(i) return xs[math.min(math.max(i, g + 1), n - g)] end
  local sum, wsum = 0, 0
  for i = g + 1, n - g do sum = sum + xs[i] end
  for i = 1, n do wsum = wsum + wins(i) end
  local wmean, ss = wsum / n, 0
  for i = 1, n do ss = ss + (wins(i) - wmean) ^ 2 end
  return sum / h, ss / (h * (h - 1)), h
end

-- Yuen's test of the trimmed means of a and b (each at least 2 values):
-- diff (a - b), its standard error, the degrees of freedom and the
-- two-sided p-value.  Without trimming it is Welch's t test.
function robust.yuen(a, b)
  local ma, da, ha = robust.trimmed(a)
  local mb, db, hb = robust.trimmed(b)
  local diff, se = ma - mb, math.sqrt(da + db)
  if se == 0 then return diff, 0, 0, diff == 0 and 1 or 0 end
  local df = (da + db) ^ 2 / (da * da / (ha - 1) + db * db / (hb - 1))
  return diff, se, df, 2 * peeka.t_cdf(-math.abs(diff / se), df)
end

return robust
