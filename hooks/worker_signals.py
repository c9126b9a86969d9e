"""Imported first by the worker server (hooks/engine.py), before the libraries.

Ctrl-C reaches every process of the build. The server and each page's process
then leave at once and quietly: the build itself reports the interruption, and
a traceback from inside a library's import would only hide that.
"""

import os
import signal

signal.signal(signal.SIGINT, lambda *_: os._exit(130))
