"""JupyterLab settings for `make lab`: nothing is fetched from the network when
it starts, so it works offline and asks no one anything.

Used as `jupyter lab --config=tools/jupyter_lab_config.py`; see the Makefile.
"""

c = get_config()  # noqa: F821 (Jupyter defines it when it reads this file)

# No Jupyter news feed and no check for a newer JupyterLab.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# The extension manager lists extensions installed here, without searching PyPI.
c.LabApp.extension_manager = "readonly"
# In a container or on CI the only user is often root; elsewhere this changes
# nothing.
c.ServerApp.allow_root = True
