"""Launch-mode target: calls fmt_safe_mod.take with values whose every
overridable method counts its calls, then prints the counts.  Formatting
them for a record must run none of them (docs/format.md)."""
import fmt_safe_mod as m

m.run()
print("counts %s" % m.counts_text(), flush=True)
