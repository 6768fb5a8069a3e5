"""The code version an experiment records: `git describe` of the checkout, else the package version."""

import subprocess
from functools import lru_cache
from importlib import metadata

from django.conf import settings


@lru_cache(maxsize=1)
def code_version() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=settings.BASE_DIR,
                             capture_output=True, text=True, timeout=5, check=True)
        described = out.stdout.strip()
        if described:
            return f"git {described}"[:100]
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"warden {metadata.version('warden')}"
    except metadata.PackageNotFoundError:
        return "unknown"
