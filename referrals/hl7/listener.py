"""The MLLP listener behind `manage.py hl7_listen`: asyncio for the connections (any number,
each sending messages one after another and reading one ACK for each), a pool of
HL7_LISTEN_THREADS threads for the work (referrals/hl7/receive.py, which uses the database).

A frame larger than HL7_MAX_MESSAGE_BYTES is answered with AR and the connection closed (what
follows it cannot be trusted to be a frame boundary); bytes outside frames are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from referrals.hl7.protocol import END, SB, Problem, build_ack, frame
from referrals.hl7.receive import receive

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


async def serve(host: str, port: int, *, ready=None, stop: asyncio.Event | None = None) -> None:
    """Listen until `stop` is set (or SIGTERM/SIGINT); `ready(host, port)` once listening."""
    executor = ThreadPoolExecutor(settings.HL7_LISTEN_THREADS, thread_name_prefix="hl7")
    limit = settings.HL7_MAX_MESSAGE_BYTES + 64
    server = await asyncio.start_server(
        lambda r, w: _connection(r, w, executor), host, port, limit=limit
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
