"""The watched inbox folder with a real Celery worker (its beat scheduler embedded, as in
`make run`): a message file dropped in is processed, moved to done/ or failed/ with its ACK
beside it; the letter that receipt queues comes out in the outbox folder."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import hl7
import pytest

from referrals.hl7.inbox import inbox_scan
from referrals.hl7.protocol import frame
from referrals.models import Letter, Referral
from tests.hl7_messages import message
from tests.test_hl7_transport import ROOT, command_env

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ack_code(path: Path) -> str:
    return str(hl7.parse(path.read_bytes().decode().replace("\r\n", "\r")).segment("MSA")(1))


@pytest.mark.worker
def test_a_worker_watches_the_inbox_and_files_each_message(tmp_path):
    inbox, letters, media = tmp_path / "inbox", tmp_path / "outbox", tmp_path / "media"
    log = tmp_path / "worker.log"
    env = command_env(media, HL7_INBOX_DIR=str(inbox), HL7_OUTBOX_DIR=str(letters),
                      HL7_INBOX_SECONDS="1")  # fmt: skip
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--beat", "--pool=solo",
         "--loglevel=INFO", "--without-gossip", "--without-mingle",
         f"--schedule={tmp_path / 'beat-schedule'}"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        inbox.mkdir(parents=True)
        # Written under a name the watcher ignores, then renamed, as messaging clients do.
        partial = inbox / "referral-1.hl7.part"
        partial.write_bytes(frame(message(control="IN-1", originating="IN-REF-1")))
        partial.rename(inbox / "referral-1.hl7")
        (inbox / "broken.hl7").write_bytes(message(control="IN-2", pid3="1^^^X^MR"))
        done, failed = inbox / "done", inbox / "failed"
        wait_for(lambda: (done / "referral-1.hl7.ack").exists()
                 and (failed / "broken.hl7.ack").exists(),
                 timeout=90, what=f"the inbox; log:\n{log.read_text()[-3000:]}")  # fmt: skip
        assert ack_code(done / "referral-1.hl7.ack") == "AA"
        assert ack_code(failed / "broken.hl7.ack") == "AE"
        assert (done / "referral-1.hl7").exists() and not (inbox / "referral-1.hl7").exists()
        assert Referral.objects.get().by_secure_message
        # The receipt letter, rendered and written by the same worker.
        wait_for(lambda: any(letters.glob("*.hl7")), timeout=90,
                 what=f"the receipt letter; log:\n{log.read_text()[-3000:]}")  # fmt: skip
        assert Letter.objects.get().status == "sent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)


def test_files_being_written_are_left_alone_and_a_name_used_twice_keeps_both(
    settings, tmp_path, private_media
):
    settings.HL7_INBOX_DIR = tmp_path / "inbox"
    settings.HL7_OUTBOX_DIR = tmp_path / "outbox"
    inbox = settings.HL7_INBOX_DIR
    inbox.mkdir()
    (inbox / "writing.hl7.part").write_bytes(message(control="P-1"))
    (inbox / ".hidden").write_bytes(message(control="P-2"))
    (inbox / "same.hl7").write_bytes(message(control="P-3", originating="P-REF-3"))
    assert inbox_scan() == {"done": 1, "failed": 0}
    (inbox / "same.hl7").write_bytes(message(control="P-4", originating="P-REF-4"))
    assert inbox_scan() == {"done": 1, "failed": 0}
    assert len(list((inbox / "done").glob("same*.hl7"))) == 2
    assert (inbox / "writing.hl7.part").exists() and (inbox / ".hidden").exists()
    (inbox / "empty.hl7").write_bytes(b"\n\n")
    assert inbox_scan() == {"done": 0, "failed": 1}
    assert ack_code(inbox / "failed" / "empty.hl7.ack") == "AR"
