"""Rows that nearly every page shows and that change a few times a year (the practice's
details, its hospitals), kept in each process for PRACTICE_DETAILS_CACHE_SECONDS instead of one
query a page.

A save in this process forgets the copy at once (the model's post_save and post_delete signals,
connected in portal.apps and referrals.apps); other processes read the rows again within the
time. Emails, letters and packets do not use these copies: they read the rows each time.
"""

import time
from collections.abc import Callable

from django.conf import settings

_copies: list["ProcessCopy"] = []


class ProcessCopy:
    def __init__(self, load: Callable[[], object]):
        self._load = load
        self._value = None
        self._read_at = 0.0
        _copies.append(self)

    def get(self):
        value, now = self._value, time.monotonic()
        if value is None or now - self._read_at >= settings.PRACTICE_DETAILS_CACHE_SECONDS:
            value = self._load()
            self._value, self._read_at = value, now
        return value

    def forget(self, **_signal) -> None:
        self._value = None


def forget_all() -> None:
    """Every copy in this process (the tests call it between tests: each starts a new database)."""
    for copy in _copies:
        copy.forget()
