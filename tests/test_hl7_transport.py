"""The ways a message arrives: `manage.py hl7_receive` (files, standard input, exit status) and
`manage.py hl7_listen` over real sockets on 127.0.0.1 with MLLP framing, several connections
at once. Both run as their own processes on the test database."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import hl7
import pytest
from django.db import connection
from hl7.client import MLLPClient

from referrals.hl7.protocol import END, SB, frame
from referrals.models import InboundMessage, Referral
from tests.hl7_messages import message

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def command_env(media: Path, **extra) -> dict:
    return {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(media),
        **extra,
    }


def hl7_receive(media, *args, stdin: bytes = b"", **env) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "hl7_receive", *args],
        input=stdin, capture_output=True, cwd=ROOT, env=command_env(media, **env), timeout=120,
    )  # fmt: skip


def acks_in(output: bytes) -> list[hl7.Message]:
    """The command prints each ACK's segments one a line, a blank line after each ACK."""
    return [hl7.parse(m) for m in hl7.split_file(output.decode().replace("\n", "\r"))]


def msa(ack: hl7.Message) -> tuple[str, str]:
    segment = ack.segment("MSA")
    return str(segment(1)), str(segment(2))


def test_hl7_receive_takes_files_and_standard_input_and_prints_one_ack_each(
    private_media, tmp_path
):
    framed = tmp_path / "two.hl7"
    framed.write_bytes(
        frame(message(control="F-1")) + frame(message(control="F-2", pid3="1^^^X^MR"))
    )
    plain = tmp_path / "one.txt"  # segments ended by LF, as a text editor saves them
    plain.write_bytes(message(control="F-3", originating="REF-3").replace(b"\r", b"\n"))
    result = hl7_receive(private_media, str(framed), str(plain))
    acks = acks_in(result.stdout)
    assert [msa(a) for a in acks] == [("AA", "F-1"), ("AE", "F-2"), ("AA", "F-3")]
    assert result.returncode == 2  # one was not accepted
    assert b"Traceback" not in result.stderr

    good = hl7_receive(private_media, "-", stdin=message(control="F-4", originating="REF-4"))
    assert good.returncode == 0, good.stderr
    assert [msa(a) for a in acks_in(good.stdout)] == [("AA", "F-4")]
    assert Referral.objects.count() == 3


def test_hl7_receive_says_what_is_wrong_with_a_file_without_a_traceback(private_media, tmp_path):
    result = hl7_receive(private_media, str(tmp_path / "missing.hl7"))
    assert result.returncode == 2
    assert b"missing.hl7" in result.stderr and b"Traceback" not in result.stderr
    junk = tmp_path / "junk.hl7"
    junk.write_bytes(b"\x00\xff not hl7 at all")
    result = hl7_receive(private_media, str(junk))
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert msa(acks_in(result.stdout)[0])[0] == "AR"


@contextlib.contextmanager
def listener(media, processes: int = 2, *, handle: list | None = None):
    log = media.parent / "listener.log"
    env = command_env(media, HL7_LISTEN_THREADS="4", HL7_LISTEN_PROCESSES=str(processes))
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "hl7_listen", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=log.open("wb"),  # a file: a pipe nobody reads would block the listener when full
    )  # fmt: skip
    if handle is not None:
        handle.append(process)
    try:
        line = process.stdout.readline().decode()
        assert "Listening" in line, log.read_text()[-3000:]
        yield int(line.rsplit(":", 1)[1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def read_ack(sock) -> bytes:
    data = b""
    while not data.endswith(END):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.strip(SB + END)


def test_the_listener_answers_each_message_on_several_connections_at_once(private_media):
    first = message(control="S-0", originating="R-0")  # sent again at the end, byte for byte
    with listener(private_media) as port:
        # The library's own MLLP client, one message.
        with MLLPClient("127.0.0.1", port) as client:
            ack = hl7.parse(client.send_message(first).strip(SB + END))
        assert msa(ack) == ("AA", "S-0")

        results: dict[str, str] = {}

        def sender(n: int) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                for k in range(2):  # two messages, one after the other, on one connection
                    control = f"S-{n}-{k}"
                    sock.sendall(frame(message(control=control, originating=f"R-{n}-{k}")))
                    results[control] = msa(hl7.parse(read_ack(sock)))[0]

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert results == {f"S-{n}-{k}": "AA" for n in range(5) for k in range(2)}

        # The same message again over the wire: the same ACK.
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(frame(first))
            again = hl7.parse(read_ack(sock))
        assert str(again) == str(ack)
    assert Referral.objects.count() == 11
    assert InboundMessage.objects.filter(channel="listener").count() == 11


def children_of(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def send_one(port: int, control: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(frame(message(control=control, originating=f"R-{control}")))
        return msa(hl7.parse(read_ack(sock)))[0]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_the_listener_runs_in_several_processes_and_replaces_one_that_dies(private_media):
    handle: list = []
    with listener(private_media, processes=2, handle=handle) as port:
        parent = handle[0].pid
        assert send_one(port, "P-1") == "AA"
        first = children_of(parent)
        assert len(first) == 2, first  # two listener processes on the one socket
        os.kill(sorted(first)[0], 9)
        for _ in range(100):  # the parent starts another within a second or two
            now = children_of(parent)
            if len(now) == 2 and now != first:
                break
            threading.Event().wait(0.1)
        assert len(now) == 2 and now != first, now
        assert [send_one(port, f"P-{n}") for n in range(2, 6)] == ["AA"] * 4
    # SIGTERM stopped the parent and its processes with it: none is left accepting.
    assert handle[0].returncode == 0, (private_media.parent / "listener.log").read_text()[-2000:]
    for pid in now:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert InboundMessage.objects.filter(channel="listener", status="accepted").count() == 5


def test_the_listener_in_one_process_answers_as_well(private_media):
    with listener(private_media, processes=1) as port:
        assert [send_one(port, f"O-{n}") for n in range(3)] == ["AA"] * 3


def test_the_listener_refuses_a_frame_over_the_limit_and_closes(private_media):
    media = private_media
    with listener(media) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(SB + b"MSH|^~\\&|" + b"x" * 4096)
            sock.sendall(END)
            ack = hl7.parse(read_ack(sock))
            assert msa(ack)[0] == "AR"
            assert sock.recv(10) == b""  # closed


@pytest.fixture
def private_media(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    return root


@pytest.fixture(autouse=True)
def _small_limit_for_the_overrun_test(request, monkeypatch):
    if "over_the_limit" in request.node.name:
        monkeypatch.setenv("HL7_MAX_MESSAGE_BYTES", "2048")


def test_hl7_receive_keeps_a_referral_and_its_correction_in_order(private_media, tmp_path):
    batch = tmp_path / "batch.hl7"
    parts = [message(control=f"ORD-{n}", originating=f"ORD-REF-{n}") for n in range(6)]
    parts.insert(3, message(control="ORD-C", originating="ORD-REF-0", status="C",
                            family="Corrected"))  # fmt: skip
    parts.append(parts[0])  # the first again: the same ACK
    batch.write_bytes(b"".join(frame(p) for p in parts))
    result = hl7_receive(private_media, str(batch))
    acks = acks_in(result.stdout)
    assert [msa(a)[1] for a in acks] == [f"ORD-{n}" for n in (0, 1, 2)] + ["ORD-C"] + [
        f"ORD-{n}" for n in (3, 4, 5, 0)
    ]
    assert {msa(a)[0] for a in acks} == {"AA"}, result.stdout.decode()[-2000:]
    assert result.returncode == 0
    assert Referral.objects.count() == 6
    corrected = Referral.objects.get(patient_family_name="Corrected")
    assert corrected.packets.count() == 2
    assert str(acks[-1]) == str(acks[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one process on SQLite")
def test_hl7_receive_shares_a_batch_among_processes_and_keeps_each_referrals_order(
    private_media, tmp_path
):
    """Three processes, a block of 10: each referral's messages go to one process, in order
    (a correction after its referral, a duplicate after its first copy), across blocks too; the
    ACKs come out in the batch's order."""
    # Corrections: of B-1 in the next block (B-1 is 2nd, its correction 13th), of B-12 and
    # B-25 in their own block, a few messages after them.
    after = {12: 1, 16: 12, 28: 25}
    parts, controls = [], []
    for n in range(30):
        parts.append(message(control=f"B-{n}", originating=f"B-REF-{n}"))
        controls.append(f"B-{n}")
        if n in after:
            k = after[n]
            parts.append(message(control=f"B-C{k}", originating=f"B-REF-{k}", status="C",
                                 family=f"Corrected{k}"))  # fmt: skip
            controls.append(f"B-C{k}")
    parts.append(parts[0])
    controls.append("B-0")
    batch = tmp_path / "batch.hl7"
    batch.write_bytes(b"".join(frame(p) for p in parts))
    env = {"HL7_LISTEN_PROCESSES": "3", "HL7_LISTEN_THREADS": "2", "HL7_BATCH_BLOCK": "10"}
    result = hl7_receive(private_media, str(batch), **env)
    acks = acks_in(result.stdout)
    assert [msa(a)[1] for a in acks] == controls
    assert {msa(a)[0] for a in acks} == {"AA"}, result.stdout.decode()[-2000:]
    assert result.returncode == 0
    assert Referral.objects.count() == 30
    for n in (1, 12, 25):
        corrected = Referral.objects.get(patient_family_name=f"Corrected{n}")
        assert corrected.packets.count() == 2
    assert str(acks[-1]) == str(acks[0])
    assert InboundMessage.objects.count() == 33
