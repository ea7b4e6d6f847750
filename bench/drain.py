"""Backlog drain rate (issue 14): how many packets a second one worker process clears from a
backlog. Run by `make bench` after bench/run.py (or alone: `python bench/drain.py`); adds its
section to bench/RESULTS.md.

A throwaway PostgreSQL database (`bench_drain`) and a Redis server of its own on a free port;
DRAIN_N (default 40) complete synthetic referrals are submitted while no worker runs, so their
packets (and receipt emails) wait in the queue; then one worker process (`--concurrency=1`,
`-Q celery,control`, no beat) drains it. The rate is packets finished per second between the
first claim and the last finish.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
DB_NAME = "bench_drain"
PG_USER = os.environ.get("BENCH_PG_USER", "root")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
N = int(os.environ.get("DRAIN_N", "40"))
HEADING = "## Backlog drain rate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset_database() -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=PG_PORT, user=PG_USER, dbname="postgres",
                         autocommit=True) as conn:  # fmt: skip
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.25)
    raise SystemExit(f"drain: timed out waiting for {what}")


def write_results(line: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if HEADING in text:  # replace an earlier drain section (the last section of the file)
        text = text[: text.index(HEADING)].rstrip() + "\n"
    RESULTS.write_text(f"{text.rstrip()}\n\n{HEADING}\n\n{line}\n")


def main() -> int:
    if not shutil.which("redis-server"):
        print("drain: redis-server is not installed; skipped", file=sys.stderr)
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    port = free_port()
    redis = subprocess.Popen(  # noqa: S603
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = None
    try:
        reset_database()
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "1", "OTP_REQUIRED": "0",
            "DATABASE_URL": f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/{DB_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:{port}/0", "VAR_DIR": str(work / "var"),
            "MEDIA_ROOT": str(work / "media"), "EMAIL_URL": f"file://{work / 'mail'}",
            "LOG_LEVEL": "WARNING",
        })  # fmt: skip
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from referrals import workflow
        from referrals.models import Packet
        from tests.factories import ReferrerFactory, make_referral

        referrer = ReferrerFactory(email="drain.gp@clinic.example")
        for _ in range(N):
            referral = make_referral(referrer)
            workflow.referral_submit(referral=referral, by=referrer, outside_criteria_reason="x")
        assert Packet.objects.count() == N
        log = work / "worker.log"
        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "celery,control",
             "--pool=prefork", "--concurrency=1", "--loglevel=WARNING", "--without-gossip",
             "--without-mingle"],
            cwd=ROOT, env=os.environ.copy(), stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for(lambda: not Packet.objects.exclude(status="ready").exists(), timeout=600,
                 what=f"the backlog to drain ({log})")  # fmt: skip
        rows = Packet.objects.values_list("claimed_at", "finished_at")
        first = min(c for c, _f in rows)
        last = max(f for _c, f in rows)
        seconds = (last - first).total_seconds()
        render = sorted((f - c).total_seconds() for c, f in rows)
        rate = N / seconds if seconds else float("inf")
    finally:
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=PG_PORT, user=PG_USER,
                                 dbname="postgres", autocommit=True) as conn:  # fmt: skip
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    line = (
        f"- Backlog drain rate (packets/s per worker process): **{rate:.2f}** "
        f"({N} packets queued with their receipt emails, one worker process draining them in "
        f"{seconds:.1f} s; a render's own time p50 {render[len(render) // 2]:.2f} s)"
    )
    print(line)
    write_results(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
