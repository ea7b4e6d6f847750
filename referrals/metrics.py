"""The referrals app's figures for /metrics (portal/metrics.py), read from the database and the
broker at each scrape: packets by state and their render time, the outbox backlog (packets and
emails waiting, the oldest one's age) and the length of each Celery queue. Registered in
referrals/apps.py, so that portal never imports referrals."""

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

logger = logging.getLogger(__name__)

RENDER_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300)
RENDER_WINDOW = timedelta(hours=24)
RENDER_SAMPLE = 5000  # the newest renders of the last day, at most


class ReferralsCollector:
    def describe(self):
        """The names, without reading anything (registering must not query the database)."""
        for name in ("portal_packets", "portal_emails", "portal_outbox_waiting",
                     "portal_outbox_oldest_seconds", "portal_celery_queue_length",
                     "portal_broker_up"):  # fmt: skip
            yield GaugeMetricFamily(name, "")
        yield HistogramMetricFamily("portal_packet_render_seconds", "")

    def collect(self):
        try:
            yield from self._from_database()
        except DatabaseError:
            logger.warning("metrics: the database did not answer")
        yield from self._queues()

    def _from_database(self):
        from referrals.models import Notification, Packet

        now = timezone.now()
        packets = GaugeMetricFamily("portal_packets", "Packet versions by state", labels=["state"])
        counts = dict(Packet.objects.values_list("status").annotate(n=Count("id")))
        for state in Packet.Status.values:
            packets.add_metric([state], counts.get(state, 0))
        yield packets

        emails = GaugeMetricFamily("portal_emails", "Emails by state", labels=["state"])
        counts = dict(Notification.objects.values_list("status").annotate(n=Count("id")))
        for state in Notification.Status.values:
            emails.add_metric([state], counts.get(state, 0))
        yield emails

        waiting = GaugeMetricFamily(
            "portal_outbox_waiting", "Outbox rows not finished (queued or working)", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "portal_outbox_oldest_seconds",
            "Age of the oldest outbox row not finished (0 when none)",
            labels=["kind"],
        )
        for kind, model in (("packet", Packet), ("email", Notification)):
            S = model.Status
            pending = [s for s in S.values if s not in ("ready", "sent", "failed")]
            row = model.objects.filter(status__in=pending).aggregate(
                n=Count("id"), first=Min("created_at")
            )
            waiting.add_metric([kind], row["n"])
            oldest.add_metric([kind], (now - row["first"]).total_seconds() if row["first"] else 0)
        yield waiting
        yield oldest

        durations = [
            (finished - claimed).total_seconds()
            for claimed, finished in Packet.objects.filter(
                status=Packet.Status.READY, finished_at__gte=now - RENDER_WINDOW
            )
            .exclude(claimed_at=None)
            .order_by("-finished_at")
            .values_list("claimed_at", "finished_at")[:RENDER_SAMPLE]
        ]
        buckets = [(str(b), sum(1 for d in durations if d <= b)) for b in RENDER_BUCKETS]
        buckets.append(("+Inf", len(durations)))
        yield HistogramMetricFamily(
            "portal_packet_render_seconds",
            "Time from claim to ready of the packets rendered in the last 24 hours",
            buckets=buckets,
            sum_value=sum(durations),
        )

    def _queues(self):
        from celery import current_app

        family = GaugeMetricFamily(
            "portal_celery_queue_length", "Tasks waiting in each Celery queue", labels=["queue"]
        )
        up = GaugeMetricFamily("portal_broker_up", "1 if the broker answered this scrape")
        names = sorted(current_app.amqp.queues.keys()) or [current_app.conf.task_default_queue]
        try:
            with current_app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=0, timeout=2)
                channel = connection.default_channel
                for name in names:
                    family.add_metric([name], _queue_length(channel, name))
            up.add_metric([], 1)
        except Exception:  # the broker is down: say so, and leave the lengths out
            logger.warning("metrics: the broker did not answer")
            up.add_metric([], 0)
        yield family
        yield up


def _queue_length(channel, name: str) -> int:
    from kombu.exceptions import ChannelError

    try:
        return channel.queue_declare(queue=name, passive=True).message_count
    except ChannelError:  # no such queue yet: nothing was ever sent to it
        return 0
