"""Launch-mode target: 3 calls of repr_mod.take; prints how often Counted's
repr ran and that the program saw no exception of peeka's."""
import repr_mod as m

for _ in range(3):
    m.take(m.Counted(), m.Raises(), m.Recurses(), m.Secret())
print("repr calls %d" % m.calls, flush=True)
