"""The cluster test's machines: one network namespace per host, each with a veth pair into a
bridge that lives in a namespace of its own (so nothing is bridged on the real host), plus one
veth into the test's own namespace for the test itself (the client and the mail server).

    vpc-db 10.177.19.2      PostgreSQL (initdb + postgres, the test's own cluster)
    vpc-broker .3           Redis (appendonly)
    vpc-s3 .4               SeaweedFS (S3 gateway on :7706)
    vpc-lb .9               HAProxy, round robin over web1 and web2, checked on /healthz
    vpc-web1 .11, web2 .12  gunicorn
    vpc-worker1 .21, .22    Celery workers (with the beat scheduler embedded)
    the test .254           the journey's client, and an SMTP server for the emails

Everything is made by `Cluster.up()` and removed by `Cluster.down()`, including on failure.
"""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

PREFIX = os.environ.get("CLUSTER_PREFIX", "vpc")
SUBNET = "10.177.19"
HOSTS = {"db": 2, "broker": 3, "s3": 4, "lb": 9, "web1": 11, "web2": 12,
         "worker1": 21, "worker2": 22}  # fmt: skip
TEST_IP = f"{SUBNET}.254"


def ip(host: str) -> str:
    return f"{SUBNET}.{HOSTS[host]}"


def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True)  # noqa: S603
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result


class Network:
    def __init__(self):
        self.switch = f"{PREFIX}-sw"

    def up(self) -> None:
        self.down()  # what an interrupted earlier run left
        sh("ip", "netns", "add", self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        for host in HOSTS:
            name = ns(host)
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
            self._wire(f"{PREFIX}-{host[:7]}", name, ip(host))
        self._wire(f"{PREFIX}-test", None, TEST_IP)

    def _wire(self, stem: str, namespace: str | None, address: str) -> None:
        inside, outside = f"{stem}-a", f"{stem}-b"
        sh("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
        sh("ip", "link", "set", outside, "netns", self.switch)
        sh("ip", "-n", self.switch, "link", "set", outside, "master", "br0", "up")
        if namespace is None:  # the test's own end stays here
            sh("ip", "addr", "add", f"{address}/24", "dev", inside)
            sh("ip", "link", "set", inside, "up")
            return
        sh("ip", "link", "set", inside, "netns", namespace)
        sh("ip", "-n", namespace, "link", "set", inside, "name", "eth0")
        sh("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        sh("ip", "-n", namespace, "link", "set", "eth0", "up")

    def link(self, host: str, state: str) -> None:
        """Cut (`down`) or restore (`up`) a host's only link."""
        sh("ip", "-n", ns(host), "link", "set", "eth0", state)

    def down(self) -> None:
        sh("ip", "link", "del", f"{PREFIX}-test-a", check=False)
        for host in HOSTS:
            sh("ip", "netns", "del", ns(host), check=False)
        sh("ip", "netns", "del", self.switch, check=False)


class Process:
    """A program on a host (`ip netns exec`), in its own process group, logging to a file."""

    def __init__(self, host: str, name: str, command: list[str], *, env: dict, log_dir: Path,
                 user: str | None = None, cwd: Path | None = None):  # fmt: skip
        self.host, self.name, self.command = host, name, command
        self.env, self.cwd, self.user = env, cwd, user
        self.log = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        prefix = ["ip", "netns", "exec", ns(self.host)]
        if self.user:
            prefix += ["runuser", "-u", self.user, "--"]
        self.popen = subprocess.Popen(  # noqa: S603
            prefix + self.command, env=self.env, cwd=self.cwd, stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return self

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        self.popen = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} ({last})")
