"""``python -m gitops``: the CLI in a process of its own."""

import gc
import os
import sys

from .cli import main

# A command builds hundreds of thousands of objects that live until it exits (parsed inputs, rendered
# files, generated Applications) and frees few, so the collector's passes walked them over and over: 15%
# of the CPU of a diff at 1000 services. What the imports left is frozen out of every collection, and
# collections start after 50,000 new objects instead of 700; cycles are still collected.
gc.freeze()
gc.set_threshold(50_000, 20, 20)
code = main()
# Freeing those objects one by one at exit took another 0.15 s. By now everything the command leaves
# behind is written and closed (files are written under ``with``, scratch trees removed), so the process
# flushes what it printed and ends without that teardown.
try:
    sys.stdout.flush()
    sys.stderr.flush()
except (BrokenPipeError, ValueError):   # the reader went away (``| head``): nothing more to say to it
    pass
os._exit(code)
