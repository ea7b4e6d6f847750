"""HL7 v2 secure messaging (referrals/hl7/, README "Secure messaging"), read from the
environment as the rest of the settings are; portal/settings.py takes these in.

Referrals arrive as REF^I12 messages in HL7_INBOX_DIR (watched by the worker every
HL7_INBOX_SECONDS), on stdin or as files (`manage.py hl7_receive`), or over MLLP
(`manage.py hl7_listen`; `make run` starts it when HL7_PORT is set). A message must be addressed
(PRD|IR, PRD-7) to one of HL7_RECEIVER_IDS: the practice's HPI-O or its IRs' Medicare provider
numbers. Letters go to HL7_OUTBOX_DIR, or by MLLP to HL7_SEND_HOST:HL7_SEND_PORT when set.
"""

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_str

__all__ = [
    "HL7_DIR",
    "HL7_RECEIVER_IDS",
    "HL7_MAX_MESSAGE_BYTES",
    "HL7_INBOX_DIR",
    "HL7_INBOX_SECONDS",
    "HL7_OUTBOX_DIR",
    "HL7_SEND_HOST",
    "HL7_SEND_PORT",
    "HL7_SEND_TIMEOUT",
    "HL7_LISTEN_THREADS",
    "HL7_LISTEN_PROCESSES",
    "HL7_BATCH_BLOCK",
    "HL7_APPLICATION",
    "HL7_FACILITY",
]

HL7_DIR = Path(env_str("VAR_DIR") or Path(__file__).resolve().parent.parent / "var") / "hl7"
HL7_RECEIVER_IDS = [
    re.sub(r"\s+", "", item).upper()
    for item in env_list(
        "HL7_RECEIVER_IDS", ["2468101L", "8003620000000013"] if env_bool("DEBUG", False) else []
    )
]
HL7_MAX_MESSAGE_BYTES = env_int("HL7_MAX_MESSAGE_BYTES", 30 * 1024 * 1024, minimum=1024)
HL7_INBOX_DIR = Path(env_str("HL7_INBOX_DIR") or HL7_DIR / "inbox")
HL7_INBOX_SECONDS = env_int("HL7_INBOX_SECONDS", 10, minimum=1)
HL7_OUTBOX_DIR = Path(env_str("HL7_OUTBOX_DIR") or HL7_DIR / "outbox")
HL7_SEND_HOST = env_str("HL7_SEND_HOST") or ""
HL7_SEND_PORT = env_int("HL7_SEND_PORT", 0, minimum=0)
if bool(HL7_SEND_HOST) != bool(HL7_SEND_PORT):
    raise ImproperlyConfigured("HL7_SEND_HOST and HL7_SEND_PORT are set together, or neither")
HL7_SEND_TIMEOUT = env_int("HL7_SEND_TIMEOUT", 30, minimum=1)
HL7_LISTEN_THREADS = env_int("HL7_LISTEN_THREADS", 8, minimum=1)
# Listener processes (forked on one socket): one uses a core at most, held by Python's GIL.
HL7_LISTEN_PROCESSES = env_int("HL7_LISTEN_PROCESSES", min(os.cpu_count() or 1, 4), minimum=1)
# hl7_receive shares a batch among those processes this many messages at a time (each block's
# ACKs are printed once the block is done).
HL7_BATCH_BLOCK = env_int("HL7_BATCH_BLOCK", 256, minimum=1)
HL7_APPLICATION = env_str("HL7_APPLICATION") or "VPPORTAL"
HL7_FACILITY = env_str("HL7_FACILITY") or "Vertebroplasty Practice"
