"""Many messages in, their ACKs out in the same order: the pipeline behind `manage.py
hl7_receive`.

In one process: each message is read and its documents checked a few messages ahead in threads
(no database there); then stored, on PostgreSQL several at once, except that a message waits for
the one before it about the same referral (the same sender's RF1-6, or MSH-10), so a correction
after its referral finds it.

Python runs one thread at a time in a process, so a large batch on PostgreSQL is shared out
among HL7_LISTEN_PROCESSES forked processes, block by block: every message about one referral
goes to the same process, which keeps their order, and a block's ACKs are written once the
whole block is done, in the messages' order.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections

from referrals.hl7.mapping import originating_id
from referrals.hl7.protocol import parse, sender_of, value
from referrals.hl7.receive import commit, order_key, prepare


@dataclass(frozen=True)
class Answer:
    """What a message's caller needs of its outcome (picklable, unlike the Outcome)."""

    ack: str
    accepted: bool


def _commit_after(before: Future | None, item):
    if before is not None:
        before.result()  # the earlier message about the same referral is stored first
    return commit(item)


def process_in_order(messages: list[bytes], *, channel: str = "command") -> Iterator[Answer]:
    """Answers in the messages' order, in this process (threads; see the module's text)."""
    window = settings.HL7_LISTEN_THREADS
    writers = window if connection.vendor == "postgresql" else 1
    with (
        ThreadPoolExecutor(window, thread_name_prefix="hl7-prepare") as preparing,
        ThreadPoolExecutor(writers, thread_name_prefix="hl7-commit") as committing,
    ):
        prepared: deque[Future] = deque()
        committed: deque[Future] = deque()
        last: dict[str, Future] = {}

        def start_commit(item) -> None:
            key = order_key(item)
            future = committing.submit(_commit_after, last.get(key), item)
            last[key] = future
            committed.append(future)

        def answer(future: Future) -> Answer:
            outcome = future.result()
            return Answer(outcome.ack, outcome.accepted)

        for raw in messages:
            prepared.append(preparing.submit(prepare, raw, channel=channel))
            if len(prepared) > window:
                start_commit(prepared.popleft().result())
            while len(committed) > window:
                yield answer(committed.popleft())
        while prepared:
            start_commit(prepared.popleft().result())
        while committed:
            yield answer(committed.popleft())


def routing_key(raw: bytes, index: int) -> str:
    """Messages with the same key go to the same process: those about one referral (the
    sender's RF1-6), or the same message again (MSH-10). A message that cannot be read has
    nothing to keep in order with."""
    try:
        message = parse(raw)
        sender = sender_of(message)
        originating = originating_id(message)
        if originating:
            return f"{sender}|RF1|{originating}"
        control = value(message.segment("MSH"), 10)
        return f"{sender}|MSH|{control}" if control else f"raw|{index}"
    except Exception:  # refused later, with its reason, by the process that gets it
        return f"raw|{index}"


def plan(block: list[bytes], start: int, processes: int) -> list[list[tuple[int, bytes]]]:
    """The block's messages (index in the block, bytes) shared among up to `processes` parts,
    each in the block's order, every message with one routing key in the same part."""
    shards: list[list[tuple[int, bytes]]] = [[] for _ in range(processes)]
    for index, raw in enumerate(block):
        key = routing_key(raw, start + index)
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        shards[int.from_bytes(digest, "big") % processes].append((index, raw))
    return [shard for shard in shards if shard]


def _shard(items: list[tuple[int, bytes]]) -> list[tuple[int, Answer]]:
    """In a forked process: one block's share, in order."""
    answers = process_in_order([raw for _, raw in items])
    return [(index, answer) for (index, _), answer in zip(items, answers, strict=True)]


def process_many(messages: list[bytes], *, processes: int | None = None) -> Iterator[Answer]:
    """Answers in the messages' order, shared out among processes when it is worth it."""
    processes = settings.HL7_LISTEN_PROCESSES if processes is None else processes
    processes = min(processes, len(messages) // settings.HL7_LISTEN_THREADS or 1)
    if processes <= 1 or connection.vendor != "postgresql":
        yield from process_in_order(messages)
        return
    connections.close_all()  # no connection is shared across a fork
    # Not a multiprocessing.Pool: its processes are daemons, which may not start the PDF
    # checker's own processes.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        size = settings.HL7_BATCH_BLOCK
        for start in range(0, len(messages), size):
            block = messages[start : start + size]
            answers: list[Answer | None] = [None] * len(block)
            for part in pool.map(_shard, plan(block, start, processes)):
                for index, answer in part:
                    answers[index] = answer
            yield from answers
