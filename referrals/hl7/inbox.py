"""The watched inbox folder (HL7_INBOX_DIR), scanned by the worker every HL7_INBOX_SECONDS.

The messaging client writes each message file into the folder (under a name starting with "."
or ending ".part" or ".tmp" while it writes, then renamed: those are left alone). Each file is
claimed by a rename into processing/ (so two workers never take the same one), its messages
processed as `hl7_receive` does, then moved to done/ when every message was accepted, or to
failed/ when any was not, with its ACKs written beside it (NAME.ack). A file left in
processing/ by a worker that died is put back after OUTBOX_STALE_SECONDS.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from django.conf import settings

from referrals.hl7.protocol import Problem, build_ack, unframe
from referrals.hl7.receive import receive
from referrals.packets import warm

logger = logging.getLogger(__name__)
BATCH = 200
SKIPPED_SUFFIXES = (".part", ".tmp", ".ack")


def _folders(root: Path) -> dict[str, Path]:
    folders = {name: root / name for name in ("processing", "done", "failed")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def _waiting(root: Path) -> list[Path]:
    files = []
    with os.scandir(root) as entries:
        for entry in entries:
            if not entry.is_file() or entry.name.startswith("."):
                continue
            if entry.name.lower().endswith(SKIPPED_SUFFIXES):
                continue
            files.append((entry.stat().st_mtime, entry.name))
    return [root / name for _mtime, name in sorted(files)[:BATCH]]


def _put_back_stale(root: Path, processing: Path) -> None:
    cutoff = time.time() - settings.OUTBOX_STALE_SECONDS
    for path in processing.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            os.replace(path, root / path.name)
            logger.warning("HL7 inbox: %s put back after its worker died", path.name)


def process_file(path: Path, folders: dict[str, Path]) -> bool:
    """One claimed file: every message in it processed; moved with its ACKs beside it."""
    limit = settings.HL7_MAX_MESSAGE_BYTES
    if path.stat().st_size > limit * 2 + 16:
        problem = Problem("MSH", 0, f"This file is over the limit of {limit:,} bytes a message.",
                          code="207", ack="AR")  # fmt: skip
        acks, accepted = [build_ack(None, "AR", [problem])], False
    else:
        messages = unframe(path.read_bytes())
        outcomes = [receive(raw, channel="folder") for raw in messages]
        if not outcomes:
            problem = Problem("MSH", 0, "This file holds no HL7 message.", code="100", ack="AR")
            acks, accepted = [build_ack(None, "AR", [problem])], False
        else:
            acks = [o.ack for o in outcomes]
            accepted = all(o.accepted for o in outcomes)
    target = folders["done" if accepted else "failed"]
    name = path.name
    if (target / name).exists():  # a client that reuses names: keep both
        name = f"{path.stem}-{time.time_ns()}{path.suffix}"
    ack_path = target / f"{name}.ack"
    partial = ack_path.with_name(ack_path.name + ".part")
    partial.write_bytes("\n".join(acks).replace("\r", "\r\n").encode("utf-8"))
    os.replace(partial, ack_path)
    os.replace(path, target / name)
    return accepted


def inbox_scan() -> dict:
    # The worker checks each message's PDFs with the warm checker (a fork of a server that
    # has pypdf loaded, started once in this worker process) rather than a new Python each.
    warm.enable()
    root = Path(settings.HL7_INBOX_DIR)
    root.mkdir(parents=True, exist_ok=True)
    folders = _folders(root)
    _put_back_stale(root, folders["processing"])
    done = failed = 0
    for path in _waiting(root):
        claimed = folders["processing"] / path.name
        try:
            os.replace(path, claimed)  # another worker took it if this fails
        except FileNotFoundError:
            continue
        os.utime(claimed)  # its claim time, for the stale check
        try:
            if process_file(claimed, folders):
                done += 1
            else:
                failed += 1
        except OSError:
            logger.exception("HL7 inbox: %s not processed; left for the next scan", path.name)
            if claimed.exists():
                os.replace(claimed, path)
    return {"done": done, "failed": failed}
