"""HL7 secure messaging: messages a second through `manage.py hl7_receive` and through the MLLP
listener (`manage.py hl7_listen`), and the listener's ACK latency under 10 concurrent senders,
each message a Level-1 REF^I12 with a 100 KB PDF letter.

Targets (issue 15): at least 20 messages a second, p99 ACK under 1 s. Run on its own with
`python bench/hl7.py` (PostgreSQL on 127.0.0.1; about a minute) or as the last step of
`make bench`; it writes its section of bench/RESULTS.md (replacing an earlier one).

Each run uses a database of its own (`bench_hl7`, dropped afterwards), DEBUG=0 and the
filesystem broker under a temporary folder (nothing is left in Redis; no worker runs, so the
packets, parts and letters that receipt queues wait there, as a worker that is behind would
leave them).
"""

from __future__ import annotations

import base64
import io
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    PG_PORT,
    PG_USER,
    PY,
    RESULTS,
    bench_env,
    log,
    pct,
    pg_connect,
    settle,
)

DB_NAME = "bench_hl7"
COMMAND_MESSAGES = int(os.environ.get("BENCH_HL7_COMMAND", "150"))
SENDERS = 10
PER_SENDER = int(os.environ.get("BENCH_HL7_PER_SENDER", "30"))
PDF_KB = 100
HEADING = "## HL7 secure messaging (issue 15)"


def letter_pdf(kilobytes: int = PDF_KB) -> bytes:
    """A one-page PDF of about `kilobytes` (a scanned letter: a noisy JPEG on the page)."""
    from PIL import Image

    rng = random.Random(15)
    side = 160
    while True:
        pixels = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), pixels).save(out, format="PDF", quality=85)
        if out.tell() >= kilobytes * 1024:
            return out.getvalue()
        side += 20


def messages(count: int, prefix: str, pdf_b64: str) -> list[bytes]:
    from tests.hl7_messages import LEVEL_1, MEDICARE

    out = []
    for n in range(count):
        text = LEVEL_1.format(
            control=f"{prefix}{n:06d}", originating=f"{prefix}R{n:06d}", status="P",
            status_text="Pending", priority="R", pid3=f"{MEDICARE}^^^AUSHIC^MC",
            family=f"Bench{n}", given="Patient", gp="2758922W", ir="2468101L",
            hpio="8003620000000013", pdf=pdf_b64,
        )  # fmt: skip
        out.append(text.encode("utf-8"))
    return out


def frame(data: bytes) -> bytes:
    return b"\x0b" + data + b"\x1c\x0d"


def reset_database() -> None:
    with pg_connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    with pg_connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def environment(work: Path) -> dict:
    env = bench_env(work)
    env["DATABASE_URL"] = f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/{DB_NAME}"
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    env["HL7_RECEIVER_IDS"] = "2468101L,8003620000000013"
    env["HL7_OUTBOX_DIR"] = str(work / "outbox")
    env["HL7_LISTEN_THREADS"] = env.get("HL7_LISTEN_THREADS", "8")
    return env


def measure_command(env: dict, work: Path, pdf_b64: str) -> dict:
    batch = work / "batch.hl7"
    batch.write_bytes(b"".join(frame(m) for m in messages(COMMAND_MESSAGES, "CMD", pdf_b64)))
    started = time.perf_counter()
    completed = subprocess.run(  # noqa: S603
        [PY, "manage.py", "hl7_receive", str(batch)], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=1800, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    accepted = completed.stdout.count("MSA|AA|")
    if accepted != COMMAND_MESSAGES:
        raise RuntimeError(f"hl7_receive accepted {accepted} of {COMMAND_MESSAGES}:\n"
                           f"{completed.stdout[-1500:]}{completed.stderr[-1500:]}")  # fmt: skip
    return {"messages": COMMAND_MESSAGES, "seconds": seconds, "rate": COMMAND_MESSAGES / seconds}


def read_ack(sock) -> bytes:
    data = b""
    while not data.endswith(b"\x1c\x0d"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the ACK")
        data += chunk
    return data


def cpu_seconds(root: int) -> float:
    """CPU time of a process and all its descendants (their own, and their reaped children's:
    the PDF checker's children are reaped by its forkserver), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(x) for x in fields[11:15]) / tick
    family, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, parent in parents.items() if parent == pid]
        family.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in family)


def measure_listener(env: dict, pdf_b64: str, work: Path) -> dict:
    log_path = work / "listener.log"  # a file, not a pipe nobody drains (a full pipe blocks)
    listener = subprocess.Popen(  # noqa: S603
        [PY, "manage.py", "hl7_listen", "--host", "127.0.0.1", "--port", "0"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=log_path.open("w"), text=True,
    )  # fmt: skip
    try:
        line = listener.stdout.readline()
        match = re.search(r":(\d+)\s*$", line)
        if not match:
            error = log_path.read_text()[-2000:]
            raise RuntimeError(f"the listener did not start: {line}{error}")
        port = int(match.group(1))

        # Warm-up, as a messaging client's first messages of the day: a few connections at
        # once (each listener process and thread opens its database connection).
        def warm(k: int) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                for raw in messages(2, f"WARM{k}-", pdf_b64):
                    sock.sendall(frame(raw))
                    read_ack(sock)

        warmers = [threading.Thread(target=warm, args=(k,)) for k in range(SENDERS)]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join()
        batches = [messages(PER_SENDER, f"L{k:02d}-", pdf_b64) for k in range(SENDERS)]
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        gate = threading.Barrier(SENDERS + 1)

        def sender(batch: list[bytes]) -> None:
            try:
                send_all(batch)
            except OSError as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")

        def send_all(batch: list[bytes]) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
                gate.wait()
                for raw in batch:
                    sent = time.perf_counter()
                    sock.sendall(frame(raw))
                    ack = read_ack(sock)
                    took = time.perf_counter() - sent
                    with lock:
                        latencies.append(took)
                        if b"MSA|AA|" not in ack:
                            failures.append(ack[:200].decode(errors="replace"))

        threads = [threading.Thread(target=sender, args=(b,)) for b in batches]
        for thread in threads:
            thread.start()
        cpu_before = cpu_seconds(listener.pid)
        gate.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(listener.pid) - cpu_before
    finally:
        listener.terminate()
        try:
            listener.wait(timeout=30)
        except subprocess.TimeoutExpired:
            listener.kill()
    if failures:
        tail = log_path.read_text()[-1500:]
        raise RuntimeError(f"{len(failures)} messages failed, e.g. {failures[0]}; log: {tail}")
    total = SENDERS * PER_SENDER
    return {
        "messages": total, "seconds": seconds, "rate": total / seconds,
        "p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
        "max": max(latencies), "cpu_per_message": cpu / total,
    }  # fmt: skip


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def section(state: dict) -> str:
    if "error" in state:
        return f"{HEADING}\n\nRun on {state['date']}: FAILED: {state['error']}\n"
    c, lst = state["command"], state["listener"]
    return "\n".join([
        HEADING, "",
        f"Written by `bench/hl7.py` on {state['date']} ({state['seconds']:.0f} s, of which "
        f"{state.get('settled', 0):.0f} s waiting for PostgreSQL's checkpoint and for the cores to "
        f"be idle; load average {state['load']} as it began, on a machine shared with other "
        "work). Level-1 REF^I12 "
        f"messages (simplified REF profile), each with a {state['pdf_kb']} KB PDF letter as the "
        "display segment, on PostgreSQL with DEBUG=0, client and server on the same 2 cores. Each "
        "message is parsed, mapped, its identifiers validated, its PDF checked as uploads are (in "
        "a bounded child, forked from a warm forkserver), stored, and the referral, its packet, "
        "notifications and receipt letter queued before its ACK is sent.", "",
        f"The listener (with its PDF checker) used {lst['cpu_per_message'] * 1000:.0f} ms of CPU a "
        f"message, so two otherwise idle cores could take about "
        f"{2 / lst['cpu_per_message']:.0f} messages a second before PostgreSQL's share; the "
        "load average above says how much of the two cores this run had.", "",
        "| measure | messages | seconds | msg/s | p50 ms | p95 ms | p99 ms | target | result |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        f"| `hl7_receive FILE` (one file, MLLP framed; includes the command's start) | "
        f"{c['messages']} | {c['seconds']:.1f} | {c['rate']:.1f} | — | — | — | ≥ 20 msg/s | "
        f"{verdict(c['rate'] >= 20)} |",
        f"| `hl7_listen`, {SENDERS} concurrent senders, {PER_SENDER} messages each, ACK latency "
        f"| {lst['messages']} | {lst['seconds']:.1f} | {lst['rate']:.1f} | {lst['p50'] * 1000:.0f} "
        f"| {lst['p95'] * 1000:.0f} | {lst['p99'] * 1000:.0f} | ≥ 20 msg/s, p99 < 1 s | "
        f"{verdict(lst['rate'] >= 20 and lst['p99'] < 1)} |",
        "",
    ])  # fmt: skip


def write_section(text: str) -> None:
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = current.find(HEADING)
    if start >= 0:
        end = current.find("\n## ", start + len(HEADING))
        current = current[:start] + (current[end + 1 :] if end >= 0 else "")
    RESULTS.write_text(current.rstrip("\n") + "\n\n" + text)
    log(f"wrote the HL7 section of {RESULTS}")


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="portal-bench-hl7-"))
    state: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    status = 0
    try:
        env = environment(work)
        reset_database()
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=600)  # fmt: skip
        pdf = letter_pdf()
        state["pdf_kb"] = round(len(pdf) / 1024)
        pdf_b64 = base64.b64encode(pdf).decode("ascii")
        state["settled"] = settle("hl7_receive")
        state["load"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        log(f"hl7_receive: {COMMAND_MESSAGES} messages")
        state["command"] = measure_command(env, work, pdf_b64)
        log(f"hl7_listen: {SENDERS} senders x {PER_SENDER}")
        state["listener"] = measure_listener(env, pdf_b64, work)
    except Exception as exc:
        state["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        status = 1
    finally:
        state["seconds"] = time.monotonic() - started
        write_section(section(state))
        if os.environ.get("BENCH_KEEP") == "1":
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        try:
            drop_database()
        except Exception as exc:
            log(f"could not drop {DB_NAME}: {exc}")
    return status


if __name__ == "__main__":
    sys.exit(main())
