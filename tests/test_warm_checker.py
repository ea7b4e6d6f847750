"""The warm PDF checker (referrals/packets/warm.py): the upload check forked from a server with
pypdf loaded, for the HL7 receivers. The same answers and the same bounds as the cold child."""

import os
import signal
import time

import pytest

from referrals.file_checks import DocumentRejected, inspect_document
from referrals.packets import sandbox, warm
from tests.files import object_stream_bomb_pdf, pdf_bytes

MAX = 100 * 1024 * 1024


@pytest.fixture
def warm_on(monkeypatch):
    monkeypatch.setattr(warm, "_enabled", True)
    yield
    with warm._lock:
        if warm._state["process"] is not None:
            warm._state["process"].kill()
            warm._state["process"].wait(5)
        warm._state.update(pid=None, process=None, socket=None)


def write(tmp_path, data: bytes, name="doc.pdf"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_it_answers_as_the_cold_check_does(warm_on, tmp_path):
    assert warm.inspect_pdf(write(tmp_path, pdf_bytes(pages=3))) == {"ok": True, "pages": 3}
    locked = write(tmp_path, pdf_bytes(pages=1, password="secret"), "locked.pdf")
    assert warm.inspect_pdf(locked)["problem"] == "password"
    broken = write(tmp_path, b"%PDF-1.7\n1 0 obj <<\n%%EOF\n", "broken.pdf")
    assert warm.inspect_pdf(broken)["problem"] == "broken"
    assert warm._state["process"] is not None  # it was the warm server that answered


def test_one_server_serves_many_checks_each_in_a_child_of_its_own(warm_on, tmp_path):
    path = write(tmp_path, pdf_bytes(pages=2))
    warm.inspect_pdf(path)
    server = warm._state["process"].pid
    pids = set()
    for _ in range(5):
        assert warm.inspect_pdf(path)["pages"] == 2
    assert warm._state["process"].pid == server  # the same server throughout
    for _ in range(3):
        sock = warm._state["socket"]
        pids.add(_child_pid(sock, path))
    assert len(pids) == 3 and server not in pids  # a fresh process for every document


def _child_pid(sock, path) -> int:
    import json
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(sock)
        request = {"path": str(path), "memory": sandbox.UPLOAD_MEMORY_LIMIT, "cpu": 5}
        conn.sendall(json.dumps(request).encode() + b"\n")
        reader = conn.makefile("rb")
        pid = int(reader.readline())
        assert json.loads(reader.readline())["ok"]
        return pid


def test_the_stream_limit_refuses_a_bomb_quickly(warm_on, tmp_path):
    path = write(tmp_path, object_stream_bomb_pdf(pages=10, megabytes=70))
    started = time.monotonic()
    with pytest.raises(DocumentRejected, match="too complex to check safely"):
        inspect_document(path, max_bytes=MAX)
    assert time.monotonic() - started < 3


def test_the_cpu_limit_ends_a_child_that_works_too_long(warm_on, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "UPLOAD_CPU_SECONDS", 1)
    path = write(tmp_path, object_stream_bomb_pdf(pages=40, megabytes=6))
    started = time.monotonic()
    assert warm.inspect_pdf(path) == {"ok": False, "problem": "limits"}
    assert time.monotonic() - started < 5


def test_at_the_timeout_the_child_is_killed(warm_on, tmp_path, monkeypatch):
    path = write(tmp_path, object_stream_bomb_pdf(pages=40, megabytes=6))
    killed = []
    real_kill = os.kill

    def kill(pid, sig):
        killed.append(pid)
        real_kill(pid, sig)

    monkeypatch.setattr(warm.os, "kill", kill)
    started = time.monotonic()
    assert warm.inspect_pdf(path, timeout=0.5) == {"ok": False, "problem": "limits"}
    assert time.monotonic() - started < 3
    assert len(killed) == 1
    time.sleep(0.3)
    assert (
        not os.path.exists(f"/proc/{killed[0]}") or " Z " in open(f"/proc/{killed[0]}/stat").read()
    )


def test_a_server_that_died_is_started_again(warm_on, tmp_path):
    path = write(tmp_path, pdf_bytes(pages=1))
    assert warm.inspect_pdf(path)["ok"]
    first = warm._state["process"]
    os.kill(first.pid, signal.SIGKILL)
    first.wait(5)
    assert warm.inspect_pdf(path) == {"ok": True, "pages": 1}
    assert warm._state["process"].pid != first.pid


def test_the_server_leaves_when_its_parent_does(warm_on, tmp_path):
    assert warm.inspect_pdf(write(tmp_path, pdf_bytes(pages=1)))["ok"]
    process, sock = warm._state["process"], warm._state["socket"]
    process.stdin.close()  # what the parent's exit does
    assert process.wait(5) == 0
    assert not os.path.exists(sock)  # its socket and private folder are gone
