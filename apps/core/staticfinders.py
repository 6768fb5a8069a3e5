"""Serves Plotly's JavaScript from the installed `plotly` package instead of a copy in the repo.

`{% static 'vendor/plotly.min.js' %}` finds the bundle the Python package ships
(plotly/package_data/plotly.min.js), so the figures Python builds and the JS that draws them
always come from the same plotly release. WhiteNoise serves it through the finders in
development and collectstatic copies it for production like any other static file.
"""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "vendor/plotly.min.js"
_DIR = Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(_DIR))
        self.storage.prefix = "vendor"  # type: ignore[attr-defined]  # collectstatic copies to vendor/

    def check(self, **kwargs) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs):
        found = str(_DIR / "plotly.min.js") if path == PLOTLY_JS else None
        if find_all:
            return [found] if found else []
        return found

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
