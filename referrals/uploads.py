"""Temporary upload files: Django streams each upload to a file under FILE_UPLOAD_TEMP_DIR (a
folder the portal owns), which storing the document moves away. A web worker killed in the
middle of an upload leaves its file behind; `sweep_upload_temp` deletes every file there older
than UPLOAD_TEMP_MAX_AGE_SECONDS (the beat task `referrals.sweep_uploads`, every
UPLOAD_TEMP_SWEEP_SECONDS, and `manage.py sweep_uploads`). An upload still arriving is written
to all the time, so its file is never that old."""

import logging
import os
import time
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def sweep_upload_temp(*, max_age: int | None = None) -> int:
    """Delete the temporary upload files older than `max_age` seconds (default
    UPLOAD_TEMP_MAX_AGE_SECONDS); returns how many. Nothing is touched where
    FILE_UPLOAD_TEMP_DIR is unset (the system's temporary folder is not ours)."""
    folder = settings.FILE_UPLOAD_TEMP_DIR
    if not folder:
        return 0
    max_age = settings.UPLOAD_TEMP_MAX_AGE_SECONDS if max_age is None else max_age
    cutoff = time.time() - max_age
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:  # stored (moved away) or swept by another process meanwhile
            continue
        except OSError as exc:
            logger.warning("could not remove a temporary upload in %s: %s", Path(folder), exc)
    if removed:
        logger.info("removed %s temporary upload files left behind", removed)
    return removed
