"""The MLLP listener behind `manage.py hl7_listen`: asyncio for the connections (any number,
each sending messages one after another and reading one ACK for each), a pool of
HL7_LISTEN_THREADS threads for the work (referrals/hl7/receive.py, which uses the database).

HL7_LISTEN_PROCESSES > 1 (the default is the number of CPUs, at most 4): the socket is bound
once, then that many processes are forked, each accepting connections from it with its own
threads and database connections (the pre-fork model of gunicorn). A process holds the GIL
for its own messages only, so receipt uses every core; the parent restarts a process that dies
and stops them all on SIGTERM or SIGINT.

A frame larger than HL7_MAX_MESSAGE_BYTES is answered with AR and the connection closed (what
follows it cannot be trusted to be a frame boundary); bytes outside frames are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connections

from referrals.hl7.protocol import END, SB, Problem, build_ack, frame
from referrals.hl7.receive import receive
from referrals.packets import warm

logger = logging.getLogger(__name__)


def _work(raw: bytes) -> str:
    close_old_connections()  # a connection the database dropped is not reused
    return receive(raw, channel="listener").ack


async def _connection(reader, writer, executor) -> None:
    loop = asyncio.get_running_loop()
    peer = writer.get_extra_info("peername")
    try:
        while True:
            try:
                data = await reader.readuntil(END)
            except asyncio.IncompleteReadError:
                return  # the sender closed the connection
            except asyncio.LimitOverrunError:
                limit = settings.HL7_MAX_MESSAGE_BYTES
                problem = Problem("MSH", 0, f"This message is over the limit of {limit:,} bytes.",
                                  code="207", ack="AR")  # fmt: skip
                writer.write(frame(build_ack(None, "AR", [problem])))
                await writer.drain()
                return
            start = data.find(SB)
            body = data[start + 1 if start >= 0 else 0 : -len(END)]
            if not body.strip():
                continue
            ack = await loop.run_in_executor(executor, _work, body)
            writer.write(frame(ack))
            await writer.drain()
    except (ConnectionError, OSError) as exc:
        logger.info("HL7 connection from %s ended: %s", peer, type(exc).__name__)
    finally:
        writer.close()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: any free one). OSError if it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=128)


async def serve(sock: socket.socket, *, ready=None, stop: asyncio.Event | None = None) -> None:
    """Accept on the bound `sock` (bind()) until `stop` is set (or SIGTERM/SIGINT);
    `ready(host, port)` once listening."""
    # The PDF checker's server (a Python of its own, a few hundred milliseconds) started
    # before the first message, not by it.
    warm.start()
    executor = ThreadPoolExecutor(settings.HL7_LISTEN_THREADS, thread_name_prefix="hl7")
    limit = settings.HL7_MAX_MESSAGE_BYTES + 64
    server = await asyncio.start_server(
        lambda r, w: _connection(r, w, executor), sock=sock, limit=limit
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests): `stop` ends it
    bound = server.sockets[0].getsockname()
    if ready is not None:
        ready(bound[0], bound[1])
    async with server:
        await stop.wait()
    executor.shutdown(wait=True, cancel_futures=False)


def _child(sock: socket.socket) -> None:
    """A forked listener process: serve until told to stop, then leave without running the
    parent's exit handlers."""
    code = 0
    try:
        asyncio.run(serve(sock=sock))
    except KeyboardInterrupt:
        pass
    except Exception:
        logger.exception("An HL7 listener process stopped")
        code = 1
    finally:
        connections.close_all()
    os._exit(code)


def serve_processes(sock: socket.socket, processes: int) -> None:
    """Fork `processes` listeners on `sock` and keep them running until SIGTERM or SIGINT."""
    connections.close_all()  # no connection is shared across a fork
    children: set[int] = set()
    stopping = False

    def start() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _child(sock)
        children.add(pid)

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.discard(pid)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(processes):
        start()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if not stopping:
            logger.error("HL7 listener process %s ended (status %s): starting another", pid, status)
            time.sleep(1)  # not a tight loop if every start fails
            start()
