"""The warm PDF checker: the upload check (`sandbox._inspect_pdf`) in a fresh child for each
PDF, forked from a small server process that has pypdf loaded, for receivers that check many
documents one after another (the HL7 listener and `hl7_receive`).

The cold check (`sandbox.inspect_pdf`) starts a new Python and imports pypdf for
each document: about a quarter of a second. multiprocessing's forkserver saves the start but
not its own set-up in each child (about 20 ms of CPU a document, a quarter of a message's
whole cost). This server forks with os.fork (about 3 ms): `python -m referrals.packets.warm
SOCKET` listens on a Unix socket in a private folder; for each connection it forks a child
that reads the request (a path and the limits), sets the limits as the cold child does
(address space, CPU, no core file) before it reads a byte of the document, sends its pid,
checks the one PDF and sends the result as JSON, then exits. The server itself reads no
document. It exits when its parent does (its standard input closes).

The caller's side (`inspect`) starts the server on first use in each process (a fork of the
caller, such as a listener process, starts its own), kills a child that is still working at
the timeout, and starts the server again if it has died; if it cannot be started, the cold
check runs instead.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from referrals.packets import sandbox

logger = logging.getLogger(__name__)

_state: dict = {"pid": None, "process": None, "socket": None}
_lock = threading.Lock()
_enabled = False


def enable() -> None:
    """Use the warm checker for the upload check from now on, in this process and its forks."""
    global _enabled
    _enabled = True


def inspect_pdf(path, *, timeout: float | None = None) -> dict:
    """The upload check of a PDF (sandbox.inspect_pdf's answers): warm when enabled and a
    server can be had, else the cold child."""
    if _enabled:
        result = inspect(
            str(path),
            timeout=sandbox.UPLOAD_TIMEOUT if timeout is None else timeout,
            memory=sandbox.UPLOAD_MEMORY_LIMIT,
            cpu=sandbox.UPLOAD_CPU_SECONDS,
        )
        if result is not None:
            return result
    return sandbox.inspect_pdf(path, timeout=timeout)


def _server() -> str | None:
    """The socket of this process's server, started if need be; None if it cannot start."""
    with _lock:
        process = _state["process"]
        if _state["pid"] == os.getpid() and process is not None and process.poll() is None:
            return _state["socket"]
        folder = tempfile.mkdtemp(prefix="pdfcheck-")  # 0700: only this user may connect
        path = str(Path(folder) / "s")
        try:
            process = subprocess.Popen(  # noqa: S603 (this interpreter, this module)
                [sys.executable, "-m", "referrals.packets.warm", path],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                cwd=str(Path(__file__).resolve().parents[2]),
            )  # fmt: skip
            ready = process.stdout.readline()
        except OSError:
            logger.exception("The warm PDF checker could not be started")
            return None
        if ready.strip() != b"ready":
            logger.error("The warm PDF checker did not start")
            process.kill()
            return None
        _state.update(pid=os.getpid(), process=process, socket=path)
        return path


def start() -> bool:
    """When enabled, start this process's server now (else it starts on the first check);
    False if it is not enabled or cannot be started."""
    return _enabled and _server() is not None


def _ask(path: str, server: str, timeout: float, memory: int, cpu: int) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(server)
        request = {"path": path, "memory": memory, "cpu": cpu}
        conn.sendall(json.dumps(request).encode() + b"\n")
        reader = conn.makefile("rb")
        child = int(reader.readline() or 0)
        try:
            answer = reader.readline()
        except TimeoutError:
            if child:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return {"ok": False, "problem": "limits"}
        if not answer:  # the child died before answering: a limit (SIGXCPU, out of memory)
            return {"ok": False, "problem": "limits"}
        return json.loads(answer)


def inspect(path: str, *, timeout: float, memory: int, cpu: int) -> dict | None:
    """The check's result, or None when no warm server can be had (use the cold check). The
    child runs under `memory` bytes of address space and `cpu` seconds; `timeout` is wall
    time, after which it is killed."""
    for _attempt in range(2):
        server = _server()
        if server is None:
            return None
        try:
            return _ask(path, server, timeout, memory, cpu)
        except (ConnectionError, FileNotFoundError):
            # The server died (or was killed): start another and ask once more.
            with _lock:
                if _state["process"] is not None:
                    _state["process"].kill()
                _state["process"] = None
        except (OSError, ValueError):
            logger.exception("The warm PDF check could not be run")
            return {"ok": False, "problem": "unavailable"}
    return {"ok": False, "problem": "unavailable"}


# --- the server ---------------------------------------------------------------------------------


def _child(conn: socket.socket) -> None:
    """One check: the request (from the portal's own process: the path and the limits), the
    limits set, then the document read."""
    request = json.loads(conn.makefile("rb").readline())
    sandbox._limit_resources(int(request["memory"]), int(request["cpu"]))
    conn.sendall(f"{os.getpid()}\n".encode())
    try:
        result = sandbox._inspect_pdf(str(request["path"]))
    except MemoryError:
        result = {"ok": False, "problem": "limits"}
    conn.sendall(json.dumps(result).encode() + b"\n")


def _warm_up() -> None:
    """Load pypdf and read a PDF once, here, so that each child starts with what the first
    read loads and caches (a fresh child otherwise spends most of its time on it); then move
    every object out of the collector's sight, so children do not copy pages to count them."""
    import gc

    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=72, height=72)
    with tempfile.NamedTemporaryFile(suffix=".pdf") as blank:
        writer.write(blank)
        blank.flush()
        sandbox._inspect_pdf(blank.name)
    gc.freeze()


def _reap() -> None:
    """Collect the children that have finished (so their CPU time counts in this process's
    children's time, where `top` and the bench see it)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(path: str) -> None:
    """Accept on `path` until standard input closes; fork a child for each connection."""
    _warm_up()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin, selectors.EVENT_READ)
    while True:
        _reap()
        for key, _ in events.select(timeout=1.0):
            if key.fileobj is sys.stdin:
                if not os.read(sys.stdin.fileno(), 1024):
                    return  # the parent has gone
                continue
            conn, _ = listener.accept()
            pid = os.fork()
            if pid == 0:
                listener.close()
                code = 0
                try:
                    _child(conn)
                except BaseException:  # noqa: BLE001 (the caller reads "limits" from silence)
                    code = 1
                os._exit(code)
            conn.close()


if __name__ == "__main__":
    try:
        serve(sys.argv[1])
    except KeyboardInterrupt:
        pass
    finally:
        try:
            os.unlink(sys.argv[1])
            os.rmdir(os.path.dirname(sys.argv[1]))
        except OSError:
            pass
