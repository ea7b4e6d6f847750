"""Bench-only settings: the portal's own, plus the baseline views (bench/urls.py).

Everything else is read from the environment exactly as in production; bench/run.py sets it.
"""

import copy

from portal.settings import *  # noqa: F403
from portal.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "bench.urls"

TEMPLATES = copy.deepcopy(TEMPLATES)
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
