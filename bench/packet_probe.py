"""Time the packet of one referral, in a process of its own (as a worker's would be).

`--mode prepare`: referrals.parts.attachments_prepare, once: what the worker does for each
document soon after it is uploaded (task referrals.prepare_attachment), so that packets need not.
Its time and memory are reported beside the packet's, not inside it.
`--mode build`: referrals.packets.build_packet, as the worker's task calls it.
`--mode baseline`: WeasyPrint alone rendering the same summary HTML, plus pypdf concatenating
the summary and the same PDFs. One untimed run first (imports, fonts, caches), then `--runs`
timed ones. Prints JSON: the seconds of each run, the peak memory (VmHWM) of this process over
all runs and of its largest child (preparing documents reads them in a child process), and this
process's RSS after the untimed run and after each timed one (a long-lived worker keeps it).

A child's peak is sampled from /proc every 10 ms while it runs: getrusage(RUSAGE_CHILDREN)
would not do, because Linux carries the parent's peak into a child's ru_maxrss when the child
execs straight after vfork (as subprocess does), so it reports the parent's size, not the child's.
"""

import argparse
import io
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import django


def _referral(referral_id: int):
    from referrals.models import Referral

    return Referral.objects.select_related("referrer__referrer_profile", "preferred_site").get(
        pk=referral_id
    )


def prepare(referral_id: int) -> int:
    """Every document's packet part, made afresh; returns how many were made."""
    from referrals.models import Attachment
    from referrals.packets.parts import attachments_prepare

    referral = _referral(referral_id)
    Attachment.objects.filter(referral=referral).update(
        part_status=Attachment.PartStatus.PENDING, part="", part_pages=None, part_note=""
    )
    attachments = list(referral.attachments.filter(replaced_by__isnull=True))
    attachments_prepare(attachments)
    return sum(a.part_status == Attachment.PartStatus.READY for a in attachments)


def build(referral_id: int, output: Path) -> None:
    from referrals.packets.build import build_packet

    build_packet(_referral(referral_id), output, version=1)


def summary_html(referral_id: int) -> tuple[str, list[str]]:
    """The summary as build_packet renders it (same template and context), and the PDFs."""
    from django.template.loader import render_to_string

    from referrals.packets.build import packet_context

    context = packet_context(_referral(referral_id))
    context["version"] = 1
    # The stored files themselves, read through the storage as build_packet reads the parts
    # (the local disk, or the bucket with BENCH_STORAGE=s3).
    pdfs = [a.file for a in context["attachments"] if a.content_type == "application/pdf"]
    return render_to_string("packets/summary.html", context), pdfs


def baseline(html: str, pdfs: list, output: Path) -> None:
    from contextlib import ExitStack

    from pypdf import PdfReader, PdfWriter

    from referrals.packets.pdf import render_html

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(render_html(html))))
    with ExitStack() as files:
        for stored in pdfs:
            writer.append(PdfReader(files.enter_context(stored.open("rb"))))
        with open(output, "wb") as handle:
            writer.write(handle)


def _status_kb(pid: int, field: str = "VmHWM") -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class ChildPeaks(threading.Thread):
    """Samples the peak RSS of this process's children until stopped (at most an hour)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kb = 0
        self.stopping = threading.Event()

    def run(self):
        me = str(os.getpid())
        deadline = time.monotonic() + 3600
        while not self.stopping.is_set() and time.monotonic() < deadline:
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/stat") as handle:
                        if handle.read().rsplit(")", 1)[1].split()[1] != me:
                            continue
                    self.peak_kb = max(self.peak_kb, _status_kb(int(entry.name)))
                except (OSError, IndexError):
                    continue  # it exited meanwhile
            self.stopping.wait(0.01)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.packet_probe")
    parser.add_argument("--mode", choices=["prepare", "build", "baseline"], required=True)
    parser.add_argument("--referral", type=int, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    django.setup()
    if args.mode == "prepare":
        children = ChildPeaks()
        children.start()
        started = time.perf_counter()
        made = prepare(args.referral)
        seconds = time.perf_counter() - started
        children.stopping.set()
        children.join(timeout=5)
        print(json.dumps({"mode": "prepare", "seconds": [seconds], "parts": made,
                          "peak_self_kb": _status_kb(os.getpid()),
                          "peak_child_kb": children.peak_kb}))  # fmt: skip
        return
    with tempfile.TemporaryDirectory(prefix="bench-packet-") as tmp:
        output = Path(tmp) / "packet.pdf"
        if args.mode == "build":
            run = lambda: build(args.referral, output)  # noqa: E731
        else:
            html, pdfs = summary_html(args.referral)
            run = lambda: baseline(html, pdfs, output)  # noqa: E731
        children = ChildPeaks()
        children.start()
        run()  # untimed: first-use costs are not what is measured
        seconds, rss_kb = [], [_status_kb(os.getpid(), "VmRSS")]
        for _ in range(max(1, args.runs)):
            started = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - started)
            rss_kb.append(_status_kb(os.getpid(), "VmRSS"))
        size = output.stat().st_size
        children.stopping.set()
        children.join(timeout=5)
    own = _status_kb(os.getpid())
    child = children.peak_kb
    print(json.dumps({"mode": args.mode, "seconds": seconds, "peak_self_kb": own,
                      "peak_child_kb": child, "rss_after_runs_kb": rss_kb,
                      "output_bytes": size}))  # fmt: skip


if __name__ == "__main__":
    main()
