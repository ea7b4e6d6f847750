"""The portal past one machine (issue 19): `make test-cluster`.

Eight hosts in network namespaces (tests/cluster/hosts.py). Through the balancer, two referrers
submit referrals with documents, an admin accepts each and the IR downloads every packet;
meanwhile web1 is killed and brought back, worker1 is killed with SIGKILL in the middle of a
render, and the broker's link is cut for 30 s. Then every referral, document, packet and email
must exist exactly once, every packet pass `qpdf --check`, no document be on a host's own disk,
and the sessions have survived web1's death. Needs root (namespaces), iproute2, HAProxy,
PostgreSQL's server programs, redis-server and qpdf: .ci/run installs them.
"""

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter

import psycopg
import pytest
from django.urls import reverse

from tests.cluster.client import Client
from tests.cluster.cluster import BUCKET, DATABASE_URL, LB, Cluster
from tests.cluster.hosts import ip, wait_until
from tests.factories import PASSWORD, complete_patient
from tests.files import image_bytes, pdf_bytes

REFERRALS = int(os.environ.get("CLUSTER_REFERRALS", "12"))
GIVEN = ["Ada", "Bea", "Cleo", "Dora", "Edie", "Fay", "Gwen", "Hope", "Iris", "June", "Kit",
         "Lena", "Mae", "Nell", "Opal", "Pia"]  # fmt: skip
USERS = """
import json
from portal import roles
from tests.factories import ReferrerFactory, UserFactory
ReferrerFactory(email="alex.gp@clinic.example", first_name="Alex", last_name="Morgan")
ReferrerFactory(email="casey.gp@other.example", first_name="Casey", last_name="Nguyen")
UserFactory(email="sam.triage@practice.example", role=roles.ADMIN)
ir = UserFactory(email="jordan.ir@practice.example", role=roles.RADIOLOGIST)
print(json.dumps({"ir": ir.pk}))
"""

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(p) for p in ("ip", "haproxy", "initdb", "qpdf")),
    reason="the cluster test needs root, iproute2, haproxy, PostgreSQL's initdb and qpdf",
)


@pytest.fixture(scope="module")
def cluster():
    made = Cluster()
    try:
        made.up()
        yield made
    finally:
        made.down()
        if os.environ.get("CLUSTER_KEEP") != "1":
            shutil.rmtree(made.dir, ignore_errors=True)
        else:
            print(f"cluster files kept in {made.dir}")


def sql(query: str, *args):
    with psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://")) as conn:
        return conn.execute(query, args).fetchall()


def refer(client: Client, i: int) -> tuple[str, dict[str, str]]:
    """One referral through the balancer, as a doctor makes it: a draft, the patient, the
    clinical facts, two documents, then submitted. Returns its uuid and its documents' digests."""
    new = client.post(reverse("referral_new"))
    assert new.status == 302, (i, new.status)
    uuid = new.location.strip("/").split("/")[1]
    patient = complete_patient()
    patient.update(patient_given_name=GIVEN[i % len(GIVEN)], patient_dob="1944-03-09",
                   patient_consent="on")  # fmt: skip
    answer = client.post(reverse("referral_section", args=[uuid, "patient"]), patient)
    assert answer.status in (200, 302), (i, answer.status)
    onset = (datetime.date.today() - datetime.timedelta(days=10)).isoformat()
    clinical = {"levels": ["T12"], "cause": "osteoporotic", "pain_score": "8",
                "pain_onset": onset}  # fmt: skip
    assert client.post(reverse("referral_section", args=[uuid, "clinical"]), clinical).status in (
        200, 302,
    )  # fmt: skip
    documents = {}
    for kind, name, content in (
        ("clinical_notes", f"notes-{i}.pdf", pdf_bytes(pages=2)),
        ("imaging", f"spine-{i}.png", image_bytes("PNG", size=(64 + i, 48))),
    ):
        upload = client.request("POST", reverse("attachment_upload", args=[uuid]),
                                data={"kind": kind}, files={"file": (name, content)})  # fmt: skip
        assert upload.status == 302, (upload.status, upload.body[:300])
        documents[name] = hashlib.sha256(content).hexdigest()
    review = reverse("referral_section", args=[uuid, "review"])
    submitted = client.post(review, {"outside_criteria_reason": "Cluster test referral."})
    assert submitted.status == 302, (submitted.status, submitted.body[:300])
    return uuid, documents


class WorkerKiller(threading.Thread):
    """SIGKILLs worker1 (its whole process group) once its log shows a packet render started
    and not finished, then starts it again."""

    def __init__(self, cluster: Cluster):
        super().__init__(daemon=True)
        self.cluster, self.done, self.killed_in = cluster, threading.Event(), None

    def run(self):
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline and not self.done.is_set():
            started, finished = set(), set()
            for line in self.cluster.log_lines("worker1"):
                message = line.get("message", "")
                if message.startswith("task referrals.render_packet started"):
                    started.add(message.rsplit("(", 1)[-1].rstrip(")"))
                elif message.startswith("Task referrals.render_packet[") and (
                    "received" not in message
                ):  # succeeded, retried, raised: done with
                    finished.add(message.split("[", 1)[1].split("]", 1)[0])
            rendering = started - finished
            if rendering:
                self.cluster.procs["worker1"].kill()
                self.killed_in = sorted(rendering)[0]
                self.cluster.faults.append("worker1 SIGKILLed mid-render")
                time.sleep(5)
                self.cluster.start_worker("worker1")
                return
            time.sleep(0.2)


def cut_broker(cluster: Cluster, seconds: int = 30):
    cluster.net.link("broker", "down")
    cluster.faults.append(f"broker link down {seconds}s")
    time.sleep(seconds)
    cluster.net.link("broker", "up")


def test_the_cluster_loses_and_doubles_nothing_through_faults(cluster):
    began = time.monotonic()
    ir_pk = json.loads(cluster.manage("shell", "-c", USERS).splitlines()[-1])["ir"]
    referrers = [Client(LB), Client(LB)]
    referrers[0].sign_in("alex.gp@clinic.example", PASSWORD)
    referrers[1].sign_in("casey.gp@other.example", PASSWORD)
    admin, ir = Client(LB), Client(LB)
    admin.sign_in("sam.triage@practice.example", PASSWORD)
    ir.sign_in("jordan.ir@practice.example", PASSWORD)

    killer = WorkerKiller(cluster)
    killer.start()
    broker_cut = threading.Thread(target=cut_broker, args=(cluster,), daemon=True)
    made: dict[str, dict[str, str]] = {}
    for i in range(REFERRALS):
        if i == 3:
            cluster.procs["web1"].kill()  # SIGKILL: no goodbye to the balancer
            cluster.faults.append("web1 killed")
            # Its health check fails within two seconds. A request caught on the dying host
            # would be a 502 for the doctor to send again; this journey waits instead, so
            # that any loss or double counted below is the portal's, not the client's.
            cluster.wait_balancer("web1", "DOWN")
        if i == 5:
            broker_cut.start()
        if i == 7:
            cluster.start_web("web1")
            cluster.wait_balancer("web1", "UP")
        uuid, documents = refer(referrers[i % 2], i)
        made[uuid] = documents
    broker_cut.join()

    # The admin accepts each referral, once it is there to accept.
    for uuid in made:
        accept = {"accept-radiologist": ir_pk, "expected_status": "submitted"}
        answer = admin.post(reverse("referral_action", args=[uuid, "accept"]), accept)
        assert answer.status == 302, answer.status

    def ready_packets():
        rows = sql("SELECT r.uuid::text, p.uuid::text, p.status, p.sha256 FROM referrals_packet p"
                   " JOIN referrals_referral r ON r.id = p.referral_id")  # fmt: skip
        return rows if rows and all(row[2] == "ready" for row in rows) and len(
            {row[0] for row in rows}) == len(made) else None  # fmt: skip

    packets = wait_until(ready_packets, timeout=180, what="every packet ready", interval=2)
    killer.done.set()
    downloaded = {}
    for referral_uuid, packet_uuid, _status, sha in packets:
        answer = ir.get(reverse("packet_download", args=[referral_uuid, packet_uuid]))
        assert answer.status == 200, answer.status
        downloaded[packet_uuid] = answer.body
        assert hashlib.sha256(answer.body).hexdigest() == sha

    def emails_settled():
        states = sql("SELECT status, count(*) FROM referrals_notification GROUP BY status")
        return dict(states) if set(dict(states)) == {"sent"} else None

    emails = wait_until(emails_settled, timeout=180, what="every email sent", interval=2)["sent"]
    time.sleep(3)  # any duplicate still on its way arrives

    # --- the reckoning ---------------------------------------------------------------------
    lost, doubled = [], []
    rows = sql("SELECT uuid::text, reference, status FROM referrals_referral")
    found = Counter(row[0] for row in rows)
    lost += [f"referral {u}" for u in made if found[u] == 0]
    doubled += [f"referral {u}" for u, n in found.items() if n > 1]
    if len(rows) != len(made):
        doubled.append(f"{len(rows)} referrals for {len(made)} submitted")
    stored = cluster.s3.keys(BUCKET)
    documents = sql("SELECT r.uuid::text, a.original_name, a.sha256, a.file"
                    " FROM referrals_attachment a"
                    " JOIN referrals_referral r ON r.id = a.referral_id")  # fmt: skip
    per_referral = Counter((row[0], row[1], row[2]) for row in documents)
    for uuid, expected in made.items():
        for name, sha in expected.items():  # the same name and the same bytes, once
            count = per_referral[(uuid, name, sha)]
            (lost if count == 0 else doubled if count > 1 else []).append(f"document {name}")
    if len(documents) != sum(len(d) for d in made.values()):
        doubled.append(f"{len(documents)} documents stored")
    for _uuid, name, sha, key in documents:
        if key not in stored or hashlib.sha256(stored[key]).hexdigest() != sha:
            lost.append(f"document {name} in the bucket")
    versions = Counter(row[0] for row in packets)
    doubled += [f"packet of {u}" for u, n in versions.items() if n > 1]
    bad_pdfs = []
    for packet_uuid, body in downloaded.items():
        path = cluster.dir / f"{packet_uuid}.pdf"
        path.write_bytes(body)
        check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        if check.returncode != 0:
            bad_pdfs.append(f"{packet_uuid}: {check.stdout[-300:]}")
    received = Counter(cluster.mailbox.messages)
    doubled += [f"email {subject} to {to}" for (to, subject), n in received.items() if n > 1]
    if len(received) < emails:
        lost.append(f"{emails - len(received)} emails")
    hosts = ("web1", "web2", "worker1", "worker2")
    media = [cluster.dir / host / "var" / "media" for host in hosts]
    on_disk = [str(p) for folder in media for p in folder.rglob("*") if p.is_file()]
    relogins = sum(c.sent_to_sign_in for c in (*referrers, admin, ir))

    print(
        f"\ncluster: submitted={len(made)} packets={len(packets)} emails={emails} "
        f"received={sum(received.values())} faults={len(cluster.faults)} lost={len(lost)} "
        f"doubled={len(doubled)} local_files={len(on_disk)} relogins={relogins} "
        f"seconds={time.monotonic() - began:.0f}\n  faults: {'; '.join(cluster.faults)}"
    )
    assert len(cluster.faults) == 3, cluster.faults
    assert not lost, lost
    assert not doubled, doubled
    assert not bad_pdfs, bad_pdfs
    assert not on_disk, f"documents on a host's own disk: {on_disk[:5]}"
    assert relogins == 0, "a session did not survive web1's death"
    assert len(packets) == len(made)
    # Both web hosts served, and web1 again after it came back.
    assert _served(cluster, "web1") and _served(cluster, "web2")
    assert ip("lb")


def _served(cluster: Cluster, host: str) -> bool:
    return any(
        '"GET' in line or '"POST' in line
        for line in (cluster.logs / f"{host}.log").read_text(errors="replace").splitlines()
    )
