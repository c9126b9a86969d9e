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
