"""The start of the worker server (hooks/engine.py has it preload this module;
never import it in the build itself): import the libraries the pages use,
once, and leave quickly.
"""

import atexit
import gc
import os
import signal

PRELOAD_ENV = "TUTORIALS_PRELOAD"  # comma-separated modules (hooks/engine.py)

# Ctrl-C reaches every process of the build: the server and the pages' processes
# (which inherit this) leave at once and quietly; the build reports it.
signal.signal(signal.SIGINT, lambda *_: os._exit(130))
# Tearing down an interpreter that has imported torch takes a second, for nothing.
atexit.register(os._exit, 0)

# The pages' arrays are tiny: one BLAS thread is as fast, and a page run once
# under heavy load stopped on a spurious "invalid value encountered in matmul"
# from a multi-threaded BLAS call. Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Imported objects live until the end: collecting meanwhile would only scan them
# again and again, and freezing them keeps the pages' collections off them too.
gc.disable()
for name in filter(None, os.environ.get(PRELOAD_ENV, "").split(",")):
    try:
        __import__(name)
    except ImportError:
        pass  # the page that needs it reports the error itself
gc.freeze()
gc.enable()
