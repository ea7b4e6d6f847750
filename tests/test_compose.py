"""docker-compose.yml is the cluster test's topology (tests/cluster/): a balancer checked on
/healthz in front of two web replicas, two workers, PostgreSQL, Redis with appendonly, and S3
storage that web and workers share. There is no Docker engine here; `docker compose config`
runs where compose is installed."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cluster import cluster as cluster_test
from tests.cluster.hosts import HOSTS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_runs_two_web_replicas_and_two_workers_on_shared_object_storage():
    assert SERVICES["web"]["deploy"]["replicas"] == 2
    assert SERVICES["worker"]["deploy"]["replicas"] == 2
    for name in ("web", "worker"):
        env = SERVICES[name]["environment"]
        assert env["STORAGE_URL"].startswith("s3://portal?endpoint=http://s3:")
        assert not any("media" in str(v) for v in SERVICES[name].get("volumes", []))
    assert "--appendonly yes" in SERVICES["redis"]["command"]
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert "-s3" in SERVICES["s3"]["command"]


def test_the_cluster_test_has_a_host_for_each_compose_service():
    # web x2 -> web1, web2; worker x2 -> worker1, worker2; s3, lb, redis -> broker, db.
    expected = {"web1", "web2", "worker1", "worker2", "s3", "lb", "broker", "db"}
    assert set(HOSTS) == expected
    assert {"lb", "web", "worker", "s3", "redis", "db"} <= set(SERVICES)


def test_compose_and_the_cluster_test_balance_alike():
    compose_lb = (ROOT / "deploy" / "haproxy.cfg").read_text()
    for config in (compose_lb, cluster_test.HAPROXY):
        assert "balance roundrobin" in config
        assert "option httpchk GET /healthz" in config
        assert "inter 1s fall 2 rise 2" in config
        assert "option redispatch 1" in config
    mounted = SERVICES["lb"]["volumes"][0]
    assert mounted.startswith("./deploy/haproxy.cfg:")


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
    if shutil.which("docker")
    else True,
    reason="no Docker client with compose here (and no engine): `docker compose config` "
    "runs where one is installed",
)
def test_docker_compose_config_passes(tmp_path):
    # Beside a .env made from .env.example, as an operator would run it.
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=tmp_path,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
