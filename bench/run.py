"""`make bench`: seed N referrals, serve the portal with gunicorn, measure, write RESULTS.md.

    cd /work/main && .venv/bin/python bench/run.py          # N = 100 000
    BENCH_N=2000 .venv/bin/python bench/run.py               # a quick run while developing

It creates (drops first) the PostgreSQL database `bench` on 127.0.0.1, migrates and seeds it,
serves the portal on a free port of 127.0.0.1 with bench.settings (the portal's settings plus
the baseline views), drives it with bench/client.py, writes bench/RESULTS.md and stops
everything it started. Every target is a ratio to a baseline measured in the same run. See
bench/README.md for what each scenario does and the environment variables that tune it.
"""

import importlib.metadata
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import pages as page_bench  # noqa: E402
from bench import storage as bench_storage  # noqa: E402
from bench.client import RequestFailed, Session  # noqa: E402
from bench.pages import ACCEPT_LATENCY_SHARE  # noqa: E402

PY = sys.executable
RESULTS = ROOT / "bench" / "RESULTS.md"
MB = 1024 * 1024


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


N = env_int("BENCH_N", 100_000)
ROUNDS = env_int("BENCH_ROUNDS", 60)  # rounds a run (each requests every scenario once)
RUNS = env_int("BENCH_RUNS", 3)  # interleaved runs; each ratio is their median, with the spread
# Beside a large N, the same scenarios at this N too (its own database and gunicorn), in the
# same rounds, for the growth ratios; 0 measures N alone.
COMPARE_N = env_int("BENCH_COMPARE_N", 100_000)
WORKERS = env_int("BENCH_WORKERS", 3)  # as the Dockerfile serves production
THROUGHPUT_SECONDS = env_int("BENCH_THROUGHPUT_SECONDS", 4)
THROUGHPUT_CLIENTS = env_int("BENCH_THROUGHPUT_CLIENTS", 4)
UPLOADS = env_int("BENCH_UPLOADS", 3)
PACKET_RUNS = env_int("BENCH_PACKET_RUNS", 5)
USERS = env_int("BENCH_USERS", 50)
MIXED_SECONDS = env_int("BENCH_MIXED_SECONDS", 60)
DB_NAME = os.environ.get("BENCH_DB", "bench")
PG_PORT = env_int("BENCH_PG_PORT", 5432)
PG_USER = os.environ.get("BENCH_PG_USER", "root")
KEEP = os.environ.get("BENCH_KEEP") == "1"  # keep the work folder (logs, files) afterwards
# Issue 19: the upload and packet scenarios again with the files in S3 (bench/storage.py).
# BENCH_STORAGE=disk leaves them out; BENCH_ONLY=storage runs only those, on disk and on S3,
# and rewrites only their section of RESULTS.md.
STORAGE = os.environ.get("BENCH_STORAGE", "both")
ONLY_STORAGE = os.environ.get("BENCH_ONLY") == "storage"


class Stopped(Exception):
    """SIGTERM or SIGINT: stop measuring, clean up, write what there is."""


def _stop(signum, frame):
    raise Stopped(f"stopped by signal {signum}")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- statistics ---------------------------------------------------------------------------------


def _cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of every core since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])  # idle + iowait; user .. steal


def settle(what: str, *, idle: float = 0.9, window: float = 2.0, most: float = 90.0) -> float:
    """Before a measurement: PostgreSQL writes out what the seeding (or the step before) left
    dirty (CHECKPOINT), then this waits until the cores are `idle` over `window` seconds, at
    most `most` seconds. A checkpoint, autovacuum or a server still stopping during a
    measurement stalled every request for seconds (a p99 of 6.8 s in one run). Returns the
    seconds waited."""
    started = time.monotonic()
    try:
        with pg_connect("postgres") as conn:
            conn.execute("CHECKPOINT")
    except Exception as exc:  # a role that may not checkpoint: only the wait then
        log(f"settle: no CHECKPOINT ({type(exc).__name__})")
    while time.monotonic() - started < most:
        idle_before, total_before = _cpu_times()
        time.sleep(window)
        idle_after, total_after = _cpu_times()
        if (idle_after - idle_before) >= idle * max(1, total_after - total_before):
            break
    waited = time.monotonic() - started
    log(f"settled for {what} in {waited:.1f} s")
    return waited


def pct(values, p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(seconds: list[float]) -> dict:
    return {
        "n": len(seconds),
        "p50": pct(seconds, 50) * 1000,
        "p95": pct(seconds, 95) * 1000,
        "p99": pct(seconds, 99) * 1000,
        "mean": statistics.fmean(seconds) * 1000 if seconds else math.nan,
    }


# --- set-up -------------------------------------------------------------------------------------


def bench_env(work: Path, db_name: str = DB_NAME) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        # Production mode by default (BENCH_DEBUG=1 to compare): cached templates, manifest
        # static files, no query log. Plain http on 127.0.0.1, so no HTTPS redirect or HSTS.
        "DEBUG": os.environ.get("BENCH_DEBUG", "0"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        # Staff sign in with two-factor, as in production (the seed gives each an authenticator).
        "OTP_REQUIRED": "1",
        # The 2 MB upload scenario adds a document a round to one draft.
        "REFERRAL_MAX_MB": "100000",
        "PACKET_MAX_PAGES": "1000000",
        "DATABASE_URL": f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/{db_name}",
        "VAR_DIR": str(work / "var"),
        "MEDIA_ROOT": str(work / "media"),
        # The upload scenario sends 200 MB through the whole upload path (check, hash, store);
        # at the default 100 MB limit the view would only stream it past and refuse it.
        "DOCUMENT_MAX_MB": "256",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("REDIS_URL", None)  # the filesystem broker under VAR_DIR: nothing left in Redis
    return env


def pg_connect(dbname: str):
    import psycopg

    return psycopg.connect(
        host="127.0.0.1", port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True,
        connect_timeout=10,
    )  # fmt: skip


def reset_database(db_name: str) -> str:
    with pg_connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
        collation = conn.execute(
            "SELECT datcollate FROM pg_database WHERE datname = %s", [db_name]
        ).fetchone()[0]
    return f"PostgreSQL {version} (database collation {collation})"


def drop_database(db_name: str) -> None:
    with pg_connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def run_step(args: list[str], env: dict, timeout: float, what: str) -> str:
    log(what)
    completed = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{what} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return completed.stdout


def free_port() -> int:
    """A free port of 127.0.0.1: the first of BENCH_PORT_BASE..+99 if that is set (a shared
    machine's own range), else any."""
    base = env_int("BENCH_PORT_BASE", 0)
    for port in range(base, base + 100) if base else [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in {base}..{base + 99}")


def start_server(env: dict, work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [PY, "-m", "gunicorn", "-c", str(ROOT / "portal" / "gunicorn_conf.py"),
               "portal.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(WORKERS), "--timeout", "120", "--chdir", str(ROOT),
               "--error-logfile", str(work / "gunicorn.log"), "--log-level", "warning"]  # fmt: skip
    log(f"serving with gunicorn on 127.0.0.1:{port} ({WORKERS} workers)")
    server = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env={**env, "GUNICORN_ACCESS_LOG": ""}, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: see {work / 'gunicorn.log'}")
        try:
            if Session(port, timeout=5).request("GET", "/healthz").status == 200:
                if len(worker_pids(server.pid)) >= WORKERS:
                    return server, port
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop_server(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    log("stopping gunicorn")
    server.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers gracefully
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# --- memory of the web processes (/proc) -------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    return pids


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peaks(pids: list[int]) -> dict[int, int] | None:
    """Reset each process's peak RSS (VmHWM) to its current RSS; return the RSS before (kB),
    or None where /proc/PID/clear_refs cannot be written (then only the sampler counts)."""
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return None
    return {pid: status_kb(pid, "VmRSS") for pid in pids}


class RssSampler(threading.Thread):
    """Samples the RSS of the given processes every 10 ms (at most 10 minutes): the growth
    over each one's RSS at the start, largest of them. A check on VmHWM, which misses nothing."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.start_kb = {pid: status_kb(pid, "VmRSS") for pid in pids}
        self.growth_kb = 0
        self.stopping = threading.Event()

    def run(self):
        deadline = time.monotonic() + 600
        while not self.stopping.is_set() and time.monotonic() < deadline:
            for pid, start in self.start_kb.items():
                try:
                    self.growth_kb = max(self.growth_kb, status_kb(pid, "VmRSS") - start)
                except (OSError, KeyError):
                    continue
            self.stopping.wait(0.01)


def peak_growth_mb(before: dict[int, int] | None, sampler: RssSampler) -> float:
    sampler.stopping.set()
    sampler.join(timeout=5)
    growth = sampler.growth_kb / 1024
    if before is not None:
        hwm = max((status_kb(pid, "VmHWM") - rss) / 1024 for pid, rss in before.items())
        growth = max(growth, hwm)
    return growth


# --- the scenarios --------------------------------------------------------------------------------


def facts_pool(count: int = 40) -> list[dict]:
    from datetime import timedelta

    from bench.seed import _clinical, _facts, _imaging

    rng = random.Random(11)
    today = date.today()
    pool = []
    for _ in range(count):
        onset = today - timedelta(days=rng.randint(0, 40))
        row = _clinical(rng, onset)
        row["coag_profile_on"] = min(row["coag_profile_on"], today)
        pool.append(_facts(row, _imaging(rng, onset, today)))
    return pool


def measure_rules(pool: list[dict]) -> dict:
    """Rule evaluations a second in this one process: parse_facts + evaluate (check), and
    evaluate alone on parsed facts. Each for 2 s at most, 200 000 evaluations at most."""
    from eligibility import rules

    today = date.today()
    parsed = [rules.parse_facts(f, today=today) for f in pool]
    rates = {}
    for name, call in (
        ("check", lambda i: rules.check(pool[i % len(pool)], today=today)),
        ("evaluate", lambda i: rules.evaluate(parsed[i % len(parsed)])),
    ):
        count, started = 0, time.perf_counter()
        while count < 200_000 and time.perf_counter() - started < 2.0:
            for i in range(count, count + 500):
                call(i)
            count += 500
        rates[name] = count / (time.perf_counter() - started)
    return rates


def measure_packet(env: dict, referral_id: int) -> dict:
    """The documents' parts first (the worker makes them at upload), then the baseline and the
    packet, each in a process of its own."""
    results = {}
    for mode in ("prepare", "baseline", "build"):
        runs = 1 if mode == "prepare" else PACKET_RUNS
        out = run_step(
            [PY, "-m", "bench.packet_probe", "--mode", mode, "--referral", str(referral_id),
             "--runs", str(runs)], env, 600, f"packet: {mode} ({runs} runs)",
        )  # fmt: skip
        results[mode] = json.loads(out.strip().splitlines()[-1])
    return results


def measure_uploads(info: dict, port: int, uploader: Session, server_pid: int) -> dict:
    """The baseline and the real upload view alternately, UPLOADS times each, one at a time.
    Before each, every web worker's peak RSS is reset; after it, the largest growth is read."""
    path = info["upload_file"]
    size = info["upload_bytes"]
    drafts = info["upload_drafts"]
    runs = {"baseline": [], "real": []}
    for i in range(min(UPLOADS, len(drafts))):
        for kind in ("baseline", "real"):
            pids = worker_pids(server_pid)
            before = reset_peaks(pids)
            sampler = RssSampler(pids)
            sampler.start()
            if kind == "baseline":
                response = uploader.post_file("/bench/upload/", {"kind": "imaging"}, "file",
                                              path, expect=(200,))  # fmt: skip
                stored = response.json()["sizes"].get("file")
                if stored != size:
                    raise RequestFailed(f"the baseline upload stored {stored} of {size} bytes")
            else:
                response = uploader.post_file(f"/referrals/{drafts[i]}/documents/",
                                              {"kind": "imaging"}, "file", path)  # fmt: skip
                if "/edit/documents/" not in response.headers.get("Location", ""):
                    raise RequestFailed(f"the upload was not accepted: {response.headers}")
            runs[kind].append(
                {
                    "seconds": response.seconds,
                    "mb_s": size / MB / response.seconds,
                    "growth_mb": peak_growth_mb(before, sampler),
                }
            )
            log(f"upload {kind} {i + 1}: {response.seconds:.2f} s, "
                f"peak RSS +{runs[kind][-1]['growth_mb']:.1f} MB")  # fmt: skip
    return runs


LINK_RE = re.compile(r'href="(/referrals/[0-9a-f-]{36}/)"')


def mixed_load(port: int, info: dict, pool: list[dict]) -> dict:
    """USERS people at once for MIXED_SECONDS: admins work the queue and open referrals, IRs
    read their reviews, referrers their dashboards and referrals and check eligibility. Each
    signs in through the sign-in page first (not timed) and thinks 0.2 to 1 s before each page,
    the first one too."""
    emails = info["emails"]
    n_admin = max(1, USERS // 5)
    n_ir = max(1, USERS // 10)
    n_referrer = max(1, USERS - n_admin - n_ir)
    people = (
        [("admin", emails["admin"][i % len(emails["admin"])]) for i in range(n_admin)]
        + [("radiologist", emails["radiologist"][i % len(emails["radiologist"])])
           for i in range(n_ir)]
        + [("referrer", e) for e in (emails["referrer"] * 2)[:n_referrer]]
    )  # fmt: skip
    sessions = [None] * len(people)

    def sign_in(k: int):
        session = Session(port)
        staff = people[k][0] != "referrer"  # staff sign in with two-factor
        session.login(people[k][1], info["password"], totp_key=info["totp_key"] if staff else None)
        sessions[k] = session

    log(f"mixed: signing in {len(people)} people")
    signing = list(range(len(people)))
    threads = [
        threading.Thread(target=lambda ks=signing[j::4]: [sign_in(k) for k in ks]) for j in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if any(s is None for s in sessions):
        raise RequestFailed("not every person could sign in for the mixed scenario")

    families = info["family_names"]
    results = []  # (action, seconds, error or None)
    lock = threading.Lock()
    stop_at = time.monotonic() + MIXED_SECONDS

    def record(action, seconds, error=None):
        with lock:
            results.append((action, seconds, error))

    # Writers: admins accept referrals (each their own share of the submitted ones), referrers
    # autosave a draft and submit complete drafts (each their own, from bench/seed.py).
    accept_pool = info["accept_uuids"][ACCEPT_LATENCY_SHARE:]  # the latency phase takes the rest
    admin_ks = [k for k, (role, _e) in enumerate(people) if role == "admin"]
    to_accept = {k: accept_pool[j :: len(admin_ks)] for j, k in enumerate(admin_ks)}
    ir_id = info["ir_ids"][0]

    def write(k: int, role: str, email: str, rng: random.Random):
        """One write; returns (action, response) or None when this person has none left."""
        if role == "admin":
            if not to_accept[k]:
                return None
            uuid_ = to_accept[k].pop()
            return "accept", session_of(k).post_form(
                f"/referrals/{uuid_}/actions/accept/",
                {"accept-radiologist": ir_id, "accept-note": "", "expected_status": "submitted"},
                expect=(302,),
            )
        mine = info["writers"].get(email)
        if mine is None:
            return None
        if rng.random() < 0.8 or not mine["submit"]:
            return "autosave", session_of(k).post_form(
                f"/referrals/{mine['autosave']}/autosave/patient/", info["autosave_form"],
                expect=(200,),
            )  # fmt: skip
        return "submit", session_of(k).post_form(
            f"/referrals/{mine['submit'].pop()}/edit/review/",
            {"outside_criteria_reason": "For the IR to decide."}, expect=(302,),
        )  # fmt: skip

    def session_of(k: int):
        return sessions[k]

    def user(k: int):
        role, email = people[k]
        session = sessions[k]
        rng = random.Random(k)
        links: list[str] = []
        # A first think too: 50 people who all press a key at the same instant are not a
        # working day (that burst queued behind 3 workers was the whole of p99, ~2.2 s).
        time.sleep(rng.uniform(0.2, 1.0))
        for _step in range(100_000):  # bounded by the clock above all
            if time.monotonic() >= stop_at:
                return
            if role == "admin":
                action, path = rng.choice([
                    ("queue", "/triage/"), ("queue", "/triage/"),
                    ("queue page", f"/triage/?page={rng.randint(2, 5)}"),
                    ("queue filter", "/triage/?status=accepted"),
                    ("queue search", f"/triage/?q={rng.choice(families)}"),
                    ("referral", None), ("referral", None),
                ])  # fmt: skip
            elif role == "radiologist":
                action, path = rng.choice([("reviews", "/reviews/"), ("reviews", "/reviews/"),
                                           ("referral", None), ("eligibility", None)])  # fmt: skip
            else:
                action, path = rng.choice([("dashboard", "/referrals/"),
                                           ("dashboard", "/referrals/"),
                                           ("dashboard page", "/referrals/?page=2"),
                                           ("referral", None), ("eligibility", None),
                                           ("eligibility", None)])  # fmt: skip
            if role != "radiologist" and rng.random() < 0.25:
                try:
                    done = write(k, role, email, rng)
                    if done is not None:
                        record(done[0], done[1].seconds)
                        time.sleep(min(rng.uniform(0.2, 1.0), max(0.0, stop_at - time.monotonic())))
                        continue
                except (RequestFailed, OSError) as exc:
                    record("write", math.nan, f"{role} write: {exc}"[:300])
                    continue
            if action == "referral":
                if not links:
                    action, path = {"admin": ("queue", "/triage/"),
                                    "radiologist": ("reviews", "/reviews/")}.get(
                        role, ("dashboard", "/referrals/"))  # fmt: skip
                else:
                    path = rng.choice(links)
            try:
                if action == "eligibility":
                    response = session.post_json("/api/eligibility", rng.choice(pool))
                else:
                    response = session.get(path)
                    found = LINK_RE.findall(response.body.decode(errors="replace"))
                    if found and action != "referral":
                        links = found
                record(action, response.seconds)
            except (RequestFailed, OSError) as exc:
                record(action, math.nan, f"{action} {path}: {exc}"[:300])
            time.sleep(min(rng.uniform(0.2, 1.0), max(0.0, stop_at - time.monotonic())))

    log(f"mixed: {len(people)} people for {MIXED_SECONDS} s")
    started = time.monotonic()
    threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(len(people))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=MIXED_SECONDS + 180)
    elapsed = time.monotonic() - started
    still_running = sum(t.is_alive() for t in threads)
    return {"results": results, "elapsed": elapsed, "people": len(people),
            "roles": {"admin": n_admin, "radiologist": n_ir, "referrer": n_referrer},
            "still_running": still_running}  # fmt: skip


# --- the report ---------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    import django

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": importlib.metadata.version("gunicorn"),
        "os": platform.platform(),
    }


def seeded(counts: dict) -> str:
    if not counts:
        return "not seeded"
    return (
        f"{counts['heavy_referrals']:,} of them for one referrer; {counts['events']:,} status "
        f"events, {counts['imaging']:,} imaging studies, {counts['packets']:,} packet rows"
    )


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")


def fmt(value: float, digits: int = 1) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:,.{digits}f}")
    )


def write_results(state: dict) -> None:
    m = state.get("machine", {})
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run.py` (`make bench`) on {state['date']}. Do not edit by hand: run it "
        "again. Targets are ratios to baselines measured in the same run (see bench/README.md).",
        "",
        "## Machine and run",
        "",
        f"- CPU: {m.get('cpu')}, {m.get('cores')} cores; memory {m.get('memory')}",
        f"- Python {m.get('python')}, Django {m.get('django')}, {state.get('postgres', '?')}; "
        f"{m.get('os')}",
        *[
            f"- N = {n:,} referrals: {seeded(seed.get('counts', {}))}; seeding "
            f"{fmt(seed.get('bulk_seconds'))} s for the bulk rows (COPY "
            f"{fmt(seed.get('counts', {}).get('copy_seconds'))} s, indexes built after it "
            f"{fmt(seed.get('counts', {}).get('index_seconds'))} s), "
            f"{fmt(seed.get('seconds'))} s with the scenario files and drafts"
            for n, seed in sorted(state.get("seeds", {}).items())
        ],
        f"- Server: gunicorn {m.get('gunicorn')}, {WORKERS} sync workers for each size, "
        f"DEBUG={state['env_debug']}, OTP_REQUIRED=1 (staff sign in with two-factor), on "
        "127.0.0.1; the client (bench/client.py) runs on the same 2 cores",
        f"- Total run time: {fmt(state.get('total_seconds'), 0)} s; before the pages and the "
        "mixed load, PostgreSQL checkpointed and the run waited for idle cores ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in (state.get("settled") or {}).items())
        + ")",
        "",
    ]
    if state.get("error"):
        lines += ["## The run did not finish", "", "```", state["error"], "```", ""]
    misses = []
    if state.get("pages"):
        page_lines, page_misses = state["pages"]
        lines += page_lines
        misses += page_misses
    rules = state.get("rules")
    if rules:
        ok = rules["check"] >= 20_000
        if not ok:
            misses.append(("rules", "Eligibility rules", f"{rules['check']:,.0f} a second"))
        lines += [
            "## Eligibility rules alone (one process)",
            "",
            "| measure | evaluations/s | target | result |",
            "| --- | ---: | --- | --- |",
            f"| `rules.check` (parse_facts + evaluate) on {rules['pool']} varied facts | "
            f"{rules['check']:,.0f} | ≥ 20 000 | {verdict(ok)} |",
            f"| `rules.evaluate` on parsed facts (for reference) | {rules['evaluate']:,.0f} | — | "
            "n/a |",
            "",
        ]
    uploads = state.get("uploads")
    if uploads:
        base = statistics.median(r["mb_s"] for r in uploads["baseline"])
        real = statistics.median(r["mb_s"] for r in uploads["real"])
        growth = max(r["growth_mb"] for r in uploads["real"])
        base_growth = max(r["growth_mb"] for r in uploads["baseline"])
        ratio = real / base
        ok_t, ok_m = ratio >= 0.5, growth <= 50
        if not ok_t:
            misses.append(("upload", "Upload throughput", f"{ratio:.2f} of the baseline"))
        if not ok_m:
            misses.append(("upload_memory", "Upload memory", f"+{growth:.0f} MB"))
        secs = ", ".join(f"{r['seconds']:.2f}" for r in uploads["real"])
        bsecs = ", ".join(f"{r['seconds']:.2f}" for r in uploads["baseline"])
        lines += [
            f"## A {state['seed']['upload_bytes'] / MB:.0f} MB document upload "
            "(a DICOM MRI series)",
            "",
            "Through the real upload view (streamed to a temporary file, type check, SHA-256, "
            "stored, attachment row) against the baseline view that only streams it to disk. "
            f"{len(uploads['real'])} of each, alternately, one at a time. Peak memory: every web "
            "worker's VmHWM is reset before each upload; the largest rise over its RSS before "
            "is reported (the PDF/DICOM check's child processes are not the web process).",
            "",
            "| measure | real view | baseline | ratio | target | result |",
            "| --- | ---: | ---: | ---: | --- | --- |",
            f"| throughput, median MB/s (seconds: real {secs}; baseline {bsecs}) | {real:,.0f} | "
            f"{base:,.0f} | {ratio:.2f} | ≥ 0.5 of the baseline | {verdict(ok_t)} |",
            f"| web process peak RSS growth, MB (largest of the runs) | {growth:.1f} | "
            f"{base_growth:.1f} | — | ≤ 50 MB | {verdict(ok_m)} |",
            "",
        ]
    packet = state.get("packet")
    if packet:
        b, p = packet["build"], packet["baseline"]
        b50, p50 = statistics.median(b["seconds"]), statistics.median(p["seconds"])
        ratio = b50 / p50
        peak = (b["peak_self_kb"] + b["peak_child_kb"]) / 1024
        ok_t, ok_m = ratio <= 1.5, peak <= 400
        if not ok_t:
            misses.append(("packet", "Packet rendering time", f"{ratio:.2f}x against ≤ 1.5x"))
        if not ok_m:
            misses.append(("packet_memory", "Packet worker memory", f"{peak:.0f} MB"))
        docs = ", ".join(f"{name} ({size / 1024:,.0f} KB)"
                         for _kind, name, size in state["seed"]["packet_documents"])  # fmt: skip
        prep = packet.get("prepare")
        lines += [
            "## Packet of a standard referral",
            "",
            f"Documents: {docs}. `build_packet` in a process of its own (as the worker runs "
            "it), against WeasyPrint alone rendering the same summary HTML plus pypdf "
            f"concatenating it with the same three PDFs. One untimed run, then {len(b['seconds'])} "
            "timed runs each. Each document's packet part (a PDF checked and rewritten, a photo "
            "or DICOM frame on a page of its own) is made once, by the worker soon after the "
            "upload, and every packet version appends the parts as they are; so the parts are "
            "made first, in a process of their own, and measured on their own line below.",
            "",
            "| measure | build_packet | baseline | ratio | target | result |",
            "| --- | ---: | ---: | ---: | --- | --- |",
            f"| median seconds (runs: {', '.join(f'{s:.2f}' for s in b['seconds'])}) | "
            f"{b50:.2f} | {p50:.2f} | {ratio:.2f}x | ≤ 1.5x | {verdict(ok_t)} |",
            f"| peak memory, MB: the process {b['peak_self_kb'] / 1024:.0f} + its largest child "
            f"{b['peak_child_kb'] / 1024:.0f} (a bound: they need not peak together) | "
            f"{peak:.0f} | {(p['peak_self_kb'] + p['peak_child_kb']) / 1024:.0f} | — | ≤ 400 MB | "
            f"{verdict(ok_m)} |",
            "",
            "The process's RSS after the untimed run and after each timed one, MB: "
            + ", ".join(f"{kb / 1024:.0f}" for kb in b.get("rss_after_runs_kb", []))
            + " (a worker process that lives on keeps what it grew to; the worker replaces a "
            "process past CELERY_WORKER_MAX_MEMORY_PER_CHILD after its task).",
            "",
        ]
        if prep:
            lines += [
                f"Making the {prep['parts']} documents' parts, once (not part of the packet's "
                f"time): {prep['seconds'][0]:.2f} s; peak memory, MB: the process "
                f"{prep['peak_self_kb'] / 1024:.0f} + its largest child "
                f"{prep['peak_child_kb'] / 1024:.0f}.",
                "",
            ]
    mixed = state.get("mixed")
    if mixed:
        results = mixed["results"]
        errors = [e for _a, _s, e in results if e]
        ok_seconds = [s for _a, s, e in results if not e]
        total = summary(ok_seconds)
        ok = (not errors and mixed["still_running"] == 0 and len(results) > 0
              and total["p95"] < 1000)  # fmt: skip
        if not ok:
            misses.append(("mixed", "Mixed load",
                           f"{len(errors)} errors, p95 {fmt(total['p95'])} ms"))  # fmt: skip
        roles = mixed["roles"]
        lines += [
            f"## {mixed['people']} people at once for {MIXED_SECONDS} s (mixed)",
            "",
            f"{roles['admin']} triage admins (queue, its pages, filters, searches, referral "
            f"pages, and accepting referrals), {roles['radiologist']} IRs (reviews, referral "
            f"pages, eligibility), {roles['referrer']} referrers (dashboard, its second page, "
            "their referrals, eligibility, and autosaving a draft and submitting referrals). "
            "About a quarter of the admins' and referrers' requests are writes. Each signed in "
            "through the sign-in page first, staff with their two-factor code, and thinks 0.2 "
            "to 1 s before each request, the first one too (so that the 50 do not all start "
            "at the same instant).",
            "",
            "| action | requests | p50 ms | p95 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for action in sorted({a for a, _s, _e in results}):
            stats = summary([s for a, s, e in results if a == action and not e])
            lines.append(f"| {action} | {stats['n']} | {fmt(stats['p50'])} | "
                         f"{fmt(stats['p95'])} | {fmt(stats['p99'])} |")  # fmt: skip
        lines += [
            f"| **all** | {total['n']} | {fmt(total['p50'])} | {fmt(total['p95'])} | "
            f"{fmt(total['p99'])} |",
            "",
            f"Throughput {len(results) / mixed['elapsed']:.1f} requests/s; errors: "
            f"{len(errors)}; result: {verdict(ok)} (target: no errors, p95 under 1 s).",
            "",
        ]
        if errors:
            lines += ["Errors (first five):", "", *[f"- `{e}`" for e in errors[:5]], ""]
    if STORAGE != "disk":
        lines += [*bench_storage.section(state), ""]
    lines += ["## Misses, and the code change that would fix each", ""]
    if misses:
        for key, name, what in misses:
            fix = FIXES.get(key) or FIXES.get(key.removesuffix("_growth"), FIXES["default"])
            lines.append(f"- **{name}: MISS ({what}).** {' '.join(fix.split())}")
        lines += ["", "The evidence behind each fix (query plans, profiles) is in bench/README.md."]
    elif not state.get("error"):
        lines.append("None: every target was met in this run.")
    RESULTS.write_text("\n".join(lines) + "\n")
    log(f"wrote {RESULTS}")


# The change that would fix each miss, from the query plans and profiles the bench showed while it
# was written (N = 100 000; bench/README.md has the numbers). Printed only for a target missed.
FIXES = {
    "default": """Profile the view in-process against the kept database (BENCH_KEEP=1): the
        queries (EXPLAIN ANALYZE of each, with django.test.utils.CaptureQueriesContext) and the
        template, as bench/README.md describes for the queue.""",
    "autosave": """An autosave of the patient section is 7 queries when it changes a field
        (tests/test_query_counts.py): the session, the user with their roles, the referral
        (nothing joined), one UPDATE of the changed columns in a savepoint, the audit row; 3 when
        it changes nothing (the bench's). The hospitals come from the process's copy, and no
        check constraint's query is built. What is left is the form (17 fields validated) and
        the referral's query: profile it in-process against the kept database.""",
    "staff_page": """The referral page for an admin: 13 queries (tests/test_query_counts.py), the
        forms written by plain_field. Profile the template in-process (BENCH_KEEP=1): the
        summary, the criteria table and the timeline are the Django template language's work.""",
    "review_page": """As the staff page: 12 queries; profile its template in-process.""",
    "queue_reference": """reference LIKE 'VP-…%' on the reference's varchar_pattern_ops index
        (referrals_referral_reference_…_like): EXPLAIN each part of triage_queue(q=...).""",
    "queue_reference_partial": """The number alone is searched in each year of ReferenceCounter
        and as a Medicare prefix (a BitmapOr of the two pattern-ops indexes): EXPLAIN it.""",
    "queue_medicare_partial": """medicare_number LIKE '…%' on referral_medicare_prefix_idx
        (varchar_pattern_ops): EXPLAIN each part of triage_queue(q=...).""",
    "queue": """Already in place: the partial index referral_waiting_queue_idx gives the
        page its order (an index scan that stops at 50 rows), only the shown columns are read
        (QUEUE_COLUMNS), each row is worked out once in the view (queue_rows) and its markup
        made there (queue_row_html), the filter bar is plain markup. What is left is the page
        query's model instances (50, with the packet-status subquery) and the base template:
        profile the view in-process (BENCH_KEEP=1).""",
    "queue_filtered": """Each part of the filtered queue should be a range walk of
        referral_outcome_queue_idx (status, eligibility_outcome, pain_onset, submitted_at, id),
        its capped count index-only: EXPLAIN ANALYZE each part of
        triage_queue(status="submitted", outcome="eligible") on the kept database.""",
    "queue_name": """A name matches 2.5% of referrals (40 family names); a search counts to
        QUEUE_SEARCH_COUNT_CAP (200), so its count reads at most 201 matches of each part,
        from the waiting-only trigram indexes of migration 0013 (EXPLAIN (ANALYZE, BUFFERS) the
        count and page of each part of triage_queue(q=NAME) on the kept database). Past that,
        the rows are the queue's: see its line.""",
    "queue_medicare": """medicare_number LIKE '…%' cannot use referral_medicare_idx: a btree
        under a non-C collation does not serve LIKE. Add Index(fields=["medicare_number"],
        opclasses=["varchar_pattern_ops"], name="referral_medicare_prefix_idx"), or match a
        complete 10-digit number exactly.""",
    "dashboard": """Check the plan of referrals_for_dashboard (referral_dashboard_idx) and the
        live assessment of drafts on the page (one query a draft would show here).""",
    "eligibility": """The API's own work is parse, evaluate and as_dict; see the rules line.""",
    "rules": """Profile eligibility.rules.check: parse_facts and evaluate per call.""",
    "upload": """The upload view reads the file again for its SHA-256 and copies it into
        storage: hash it while it streams (in the upload handler) and move the temporary file
        into place instead of copying.""",
    "upload_memory": """Something reads the upload whole: look for .read() without a size in
        referrals/documents.py and attachments.attachment_add.""",
    "packet": """A packet should be the summary (WeasyPrint) plus pypdf appending each
        document's ready-made part and drawing the stamps. If it is slow, check that the parts
        were made before (every attachment's part_status is "ready"; otherwise the render made
        them itself) and profile build_packet: the summary's tables are WeasyPrint's work.""",
    "packet_memory": """The summary render and pypdf hold a few MB of pages; a larger peak
        means a part is being made during the render (see the time) or an appended part is
        large. CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB replaces a worker process that grew.""",
    "mixed": """See the errors listed above and gunicorn's log (BENCH_KEEP=1 keeps it).""",
}


# --- main ---------------------------------------------------------------------------------------


def start_s3(state: dict, env: dict, work: Path):
    """SeaweedFS with a new bucket holding the seeded files; the environment that uses it."""
    log("S3: starting SeaweedFS, copying the seeded files into a bucket")
    s3, bucket = bench_storage.start(work)
    copied = bench_storage.copy_media(s3, bucket, Path(env["MEDIA_ROOT"]))
    version = subprocess.run([s3.process.args[0], "version"], capture_output=True, text=True)
    words = version.stdout.split()  # "version 8000GB 4.48 pypi linux amd64"
    state["s3"] = {"weed": words[2] if len(words) > 2 else "?", "copied": copied}
    return s3, {**env, **s3.env(bucket)}


def s3_uploads(info: dict, s3_env: dict, work: Path) -> dict:
    server, port = start_server(s3_env, work)
    try:
        uploader = Session(port)
        uploader.login(info["uploader_email"], info["password"])
        log("uploads, S3")
        return measure_uploads(info, port, uploader, server.pid)
    finally:
        stop_server(server)


def sizes() -> list[int]:
    """N, and COMPARE_N beside it when N is larger (the growth ratios)."""
    return sorted({N, COMPARE_N}) if 0 < COMPARE_N < N else [N]


def prepare(n: int, work: Path) -> tuple[dict, dict, str]:
    """A database of its own for N = n, migrated and seeded: (env, seed info, its name)."""
    db_name = DB_NAME if n == N else f"{DB_NAME}_{n}"
    folder = work / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    env = bench_env(folder, db_name)
    postgres = reset_database(db_name)
    run_step([PY, "manage.py", "migrate", "--noinput", "-v", "0"], env, 600, f"migrate {db_name}")
    info_path = folder / "seed.json"
    run_step([PY, "-m", "bench.seed", "--n", str(n), "--out", str(info_path), "--files",
              str(folder / "files")], env, 1800, f"seed {n:,} referrals")  # fmt: skip
    info = json.loads(info_path.read_text())
    log(f"seeded {n:,} in {info['seconds']} s: {info['counts']}")
    if env["DEBUG"] == "0":  # each server has its own VAR_DIR, so its own static files
        run_step([PY, "manage.py", "collectstatic", "--noinput", "-v", "0"], env, 600,
                 "collectstatic")  # fmt: skip
    return env, info, postgres


def sign_in_all(port: int, info: dict) -> dict:
    """The personas of the page scenarios, signed in through the sign-in page (staff with their
    two-factor code)."""
    key = info["totp_key"]
    people = {
        "admin": (info["emails"]["admin"][0], key),
        "ir": (info["emails"]["radiologist"][0], key),
        "heavy": ("bench-gp-heavy@clinic.example", None),
        "referrer": (info["emails"]["referrer"][3], None),
        "uploader": (info["uploader_email"], None),
    }
    sessions = {}
    for name, (email, totp_key) in people.items():
        sessions[name] = Session(port)
        sessions[name].login(email, info["password"], totp_key=totp_key)
    return sessions


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    state = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
             "env_debug": os.environ.get("BENCH_DEBUG", "0"), "seeds": {}}  # fmt: skip
    servers = []
    databases = []
    s3 = s3_env = None
    status = 0
    state["n"] = N
    try:
        state["machine"] = machine()
        log(f"N = {', '.join(f'{n:,}' for n in sizes())}; work folder {work}")
        prepared = {}
        for n in sizes():
            env, info, state["postgres"] = prepare(n, work)
            databases.append(env["DATABASE_URL"].rsplit("/", 1)[1])
            prepared[n] = (env, info)
            state["seeds"][n] = info
        env, info = prepared[N]
        state["seed"] = info
        pool = facts_pool()
        if not ONLY_STORAGE:
            log("rules alone")
            state["rules"] = {**measure_rules(pool), "pool": len(pool)}
        state["packet"] = measure_packet(env, info["packet_referral_id"])
        if STORAGE != "disk":
            s3, s3_env = start_s3(state, env, work)
            state["s3"]["packet"] = measure_packet(s3_env, info["packet_referral_id"])

        if ONLY_STORAGE:  # the upload and packet scenarios alone, on disk and on S3
            server, port = start_server(env, work / f"n{N}")
            servers.append(server)
            uploader = Session(port)
            uploader.login(info["uploader_email"], info["password"])
            state["uploads"] = measure_uploads(info, port, uploader, server.pid)
            if s3 is not None:
                state["s3"]["uploads"] = s3_uploads(info, s3_env, work)
            return status
        scenarios, ports = [], {}
        for n, (n_env, n_info) in prepared.items():
            server, port = start_server(n_env, work / f"n{n}")
            servers.append(server)
            ports[n] = (server, port)
            sessions = sign_in_all(port, n_info)
            scenarios += page_bench.scenarios_for(n, n_info, sessions, pool)
            if n == N:
                uploader = sessions["uploader"]
        shown = page_bench.shown(scenarios)
        state["settled"] = {"pages": settle("the pages")}
        timings = page_bench.measure(scenarios, runs=RUNS, rounds=ROUNDS, log=log)
        state["pages"] = page_bench.report(timings, shown, sizes(), runs=RUNS, rounds=ROUNDS)
        server, port = ports[N]
        log("uploads")
        state["uploads"] = measure_uploads(info, port, uploader, server.pid)
        state["settled"]["mixed"] = settle("the mixed load")
        state["mixed"] = mixed_load(port, info, pool)
        if s3 is not None:
            state["s3"]["uploads"] = s3_uploads(info, s3_env, work)
    except (Exception, Stopped) as exc:
        state["error"] = f"{type(exc).__name__}: {exc}"
        log(f"FAILED: {state['error']}")
        status = 1
    finally:
        for server in servers:
            stop_server(server)
        if s3 is not None:
            s3.stop()
        state["total_seconds"] = time.monotonic() - started
        if ONLY_STORAGE:
            bench_storage.rewrite_section(RESULTS, state)
            log(f"rewrote the S3 section of {RESULTS}")
        else:
            write_results(state)
            # HL7 secure messaging (issue 15): its own database and section of RESULTS.md.
            hl7 = subprocess.run([PY, str(ROOT / "bench" / "hl7.py")], cwd=ROOT, check=False)
            status = status or int(hl7.returncode != 0)
        if KEEP:
            log(f"kept {work} and the databases {', '.join(databases)}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            for db_name in databases:
                try:
                    drop_database(db_name)
                except Exception as exc:  # the results are written; say so and go on
                    log(f"could not drop the database {db_name}: {exc}")
    return status


if __name__ == "__main__":
    sys.exit(main())
