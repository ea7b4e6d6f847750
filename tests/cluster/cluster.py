"""Bring the cluster's hosts up (tests/cluster/hosts.py) with their programs, and down again.

The web and worker hosts run the portal from this checkout with the settings production
would give them: PostgreSQL on `db`, Redis on `broker`, the bucket on `s3`, email by SMTP to
the test, JSON logs. Timings are shortened through the existing settings so that recovery
happens within the test: the sweeper republishes a row the broker never got after 10 s and
takes back one whose worker died after 25 s (above the 20 s hard time limit).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from email import message_from_bytes
from pathlib import Path

from tests.cluster.hosts import HOSTS, TEST_IP, Network, Process, ip, ns, sh, wait_until
from tests.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
S3_BASE_PORT = 7700  # inside the s3 host's own namespace
S3_ENDPOINT = f"http://{ip('s3')}:{S3_BASE_PORT + 6}"
BUCKET = "portal-cluster"
SMTP_PORT = 7725
LB = f"http://{ip('lb')}"
DATABASE_URL = f"postgres://portal@{ip('db')}:5432/portal"

HAPROXY = """
global
    maxconn 512
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch 1
    option http-server-close
frontend portal
    bind {lb}:80
    default_backend web
backend web
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    server web1 {web1}:8000 check
    server web2 {web2}:8000 check
"""


class Mailbox:
    """An SMTP server for the portal's emails (aiosmtpd): every message, as received."""

    def __init__(self):
        self.messages: list[tuple[tuple[str, ...], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        subject = message_from_bytes(envelope.content)["Subject"] or ""
        with self.lock:
            self.messages.append((tuple(sorted(envelope.rcpt_tos)), str(subject)))
        return "250 OK"


class Cluster:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vp-cluster-"))
        self.dir.chmod(0o755)  # postgres (not root) reads its folder under it
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        self.net = Network()
        self.procs: dict[str, Process] = {}
        self.s3: SeaweedFS | None = None
        self.mailbox = Mailbox()
        self.smtp = None
        self.faults: list[str] = []

    # --- the hosts' environment --------------------------------------------------------------

    def app_env(self, host: str) -> dict:
        var = self.dir / host / "var"
        var.mkdir(parents=True, exist_ok=True)
        keep = ("PATH", "LANG", "LC_ALL", "HOME", "TZ")
        return {
            **{k: v for k, v in os.environ.items() if k in keep},
            "DEBUG": "1",
            "ALLOWED_HOSTS": f"{ip('lb')},{ip(host) if host in HOSTS else TEST_IP},localhost",
            "SITE_URL": LB,
            "VAR_DIR": str(var),
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": f"redis://{ip('broker')}:6379/0",
            "STORAGE_URL": f"s3://{BUCKET}?endpoint={S3_ENDPOINT}",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "EMAIL_URL": f"smtp://{TEST_IP}:{SMTP_PORT}",
            "OTP_REQUIRED": "0",  # the staff here sign in with a password (tests do so too)
            "LOG_FORMAT": "json",
            "OUTBOX_RESEND_SECONDS": "10",
            "OUTBOX_STALE_SECONDS": "25",
            "OUTBOX_RETRY_SECONDS": "2,4,8,15,30,30",
            "CELERY_TASK_SOFT_TIME_LIMIT": "15",
            "CELERY_TASK_TIME_LIMIT": "20",
            "CELERY_VISIBILITY_TIMEOUT": "30",
            "PACKET_RENDER_DELAY_SECONDS": "2",  # a render long enough to be killed in
            "PYTHONUNBUFFERED": "1",
        }

    def manage(self, *args: str) -> str:
        """manage.py from the test's end of the network, as an operator would run it."""
        env = {**self.app_env("admin"), "DJANGO_SETTINGS_MODULE": "portal.settings"}
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]}: {result.stderr[-3000:]}")
        return result.stdout

    # --- up and down -------------------------------------------------------------------------

    def up(self) -> None:
        self.net.up()
        self._database()
        self._broker()
        self.s3 = SeaweedFS.start(self.dir / "s3", ip=ip("s3"), base_port=S3_BASE_PORT,
                                  prefix=("ip", "netns", "exec", ns("s3")))  # fmt: skip
        self.s3.client.create_bucket(Bucket=BUCKET)
        self.manage("migrate", "--noinput", "-v", "0")
        self._mail()
        for host in ("web1", "web2"):
            self.start_web(host)
        for host in ("worker1", "worker2"):
            self.start_worker(host)
        config = self.dir / "haproxy.cfg"
        config.write_text(HAPROXY.format(lb=ip("lb"), web1=ip("web1"), web2=ip("web2"),
                                         sock=self.dir / "haproxy.sock"))  # fmt: skip
        self._start(
            "lb", "haproxy", ["haproxy", "-db", "-f", str(config)], env={"PATH": os.environ["PATH"]}
        )
        wait_until(lambda: _status(f"{LB}/readyz") == 200, timeout=60, what="the balancer")

    def _start(self, host, name, command, *, env, user=None) -> Process:
        process = Process(host, name, command, env=env, log_dir=self.logs, user=user, cwd=ROOT)
        self.procs[name] = process.start()
        return process

    def _database(self) -> None:
        data = self.dir / "db" / "data"
        data.parent.mkdir(parents=True)
        shutil.chown(data.parent, "postgres", "postgres")
        sh("runuser", "-u", "postgres", "--", "initdb", "-D", str(data), "--auth=trust",
           "-U", "portal", "--encoding=UTF8", "--no-sync")  # fmt: skip
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write("host all all 10.177.19.0/24 trust\n")
        self._start("db", "postgres", ["postgres", "-D", str(data), "-c",
                    f"listen_addresses={ip('db')}", "-c", f"unix_socket_directories={data.parent}",
                    "-c", "fsync=off", "-c", "max_connections=200"],
                    env={"PATH": os.environ["PATH"]}, user="postgres")  # fmt: skip
        wait_until(lambda: sh("pg_isready", "-h", ip("db"), "-q", check=False).returncode == 0,
                   timeout=60, what="PostgreSQL")  # fmt: skip
        sh("createdb", "-h", ip("db"), "-U", "portal", "portal")

    def _broker(self) -> None:
        folder = self.dir / "broker"
        folder.mkdir()
        self._start("broker", "redis", ["redis-server", "--bind", ip("broker"), "--port", "6379",
                    "--save", "", "--appendonly", "yes", "--dir", str(folder),
                    "--protected-mode", "no"], env={"PATH": os.environ["PATH"]})  # fmt: skip
        wait_until(lambda: sh("redis-cli", "-h", ip("broker"), "ping", check=False).stdout.strip()
                   == "PONG", timeout=30, what="Redis")  # fmt: skip

    def _mail(self) -> None:
        from aiosmtpd.controller import Controller

        self.smtp = Controller(self.mailbox, hostname=TEST_IP, port=SMTP_PORT)
        self.smtp.start()

    def start_web(self, host: str) -> None:
        env = {**self.app_env(host), "GUNICORN_BIND": f"{ip(host)}:8000", "WEB_CONCURRENCY": "2"}
        self._start(host, host, [str(BIN / "gunicorn"), "-c", "portal/gunicorn_conf.py",
                    "portal.wsgi:application"], env=env)  # fmt: skip
        wait_until(lambda: _status(f"http://{ip(host)}:8000/healthz") == 200, timeout=60,
                   what=f"{host}'s gunicorn")  # fmt: skip

    def start_worker(self, host: str) -> None:
        schedule = self.dir / host / "var" / "celerybeat-schedule"
        self._start(host, host, [str(BIN / "celery"), "-A", "portal", "worker", "--beat",
                    f"--schedule={schedule}", "--pool=prefork", "--concurrency=1",
                    "--loglevel=INFO", f"--hostname={host}@%h", "--without-gossip",
                    "--without-mingle"], env=self.app_env(host))  # fmt: skip

    def balancer_sees(self, host: str) -> str:
        """UP or DOWN: what HAProxy's health check says of a web host now."""
        import socket

        with socket.socket(socket.AF_UNIX) as stats:
            stats.connect(str(self.dir / "haproxy.sock"))
            stats.sendall(b"show stat\n")
            text = b"".join(iter(lambda: stats.recv(65536), b"")).decode()
        header, *rows = text.lstrip("# ").splitlines()
        columns = header.split(",")
        for row in rows:
            values = dict(zip(columns, row.split(","), strict=False))
            if values.get("pxname") == "web" and values.get("svname") == host:
                return values.get("status", "")
        return ""

    def wait_balancer(self, host: str, state: str) -> None:
        wait_until(lambda: self.balancer_sees(host).startswith(state), timeout=30,
                   what=f"HAProxy to see {host} {state}", interval=0.2)  # fmt: skip

    def down(self) -> None:
        for process in reversed(list(self.procs.values())):
            process.stop()
        if self.s3 is not None:
            self.s3.stop()
        if self.smtp is not None:
            self.smtp.stop()
        self.net.down()

    def log_lines(self, name: str) -> list[dict]:
        lines = []
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines


def _status(url: str) -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310 - the test's own
            return answer.status
    except Exception:
        return 0
