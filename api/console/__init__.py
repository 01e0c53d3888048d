"""The operator console at ``/``: a built single-page app shipped in the package.

``http.py`` serves the page and its assets; ``src/`` is the source (Preact, uPlot,
graphql-ws, built with Vite into ``static/``, see README.md). The built files are
committed, so ``pip install .`` ships them and nothing is fetched at run time.
"""

from api.console.http import routes

__all__ = ["routes"]
