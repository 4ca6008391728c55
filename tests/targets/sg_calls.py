"""Launch-mode target: N calls of sg.run (each calls App.handle)."""
import sys

import sg

for i in range(int(sys.argv[1])):
    sg.run(i)
print("calls done", flush=True)
