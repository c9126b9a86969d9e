"""The worker server's set-up, preloaded first (hooks/engine.py; never import it
in the build itself): then it imports the tutorials' libraries, once."""

import atexit
import gc
import os
import signal

# Ctrl-C reaches every process of the build: the server leaves at once and
# quietly (each page's process sets the same); the build reports it.
signal.signal(signal.SIGINT, lambda *_: os._exit(130))
# Tearing down an interpreter that has imported torch takes a second, for nothing.
atexit.register(os._exit, 0)
# What the server imports lives until the end: collecting meanwhile would only
# scan it again and again (each page's process freezes it, then collects).
gc.disable()
