"""The referral packet: one PDF an IR reads instead of a web page. A plain function of the
referral, testable without Celery; referrals/tasks.py calls it.

Assembly: a WeasyPrint summary, then each document in upload order (PDFs appended with a
bookmark, images and DICOM summaries on pages of their own), then the reference and "page x of
y" stamped on every page, appended ones included.
"""

import base64
import hashlib
import mimetypes
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone
from pypdf import PdfReader, PdfWriter, Transformation
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from referrals.models import Attachment, Referral
from referrals.prepare import prepare_documents

STATIC_SCHEME = "portal-static:"


class PacketURLFetcher(URLFetcher):
    """Lets WeasyPrint read only data: URIs and the portal's own static files.

    Anything else (file:, http:, a relative path) is refused, so no text in a referral can make
    the renderer read a local file or reach the network.
    """

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith(STATIC_SCHEME):
            relative = url.removeprefix(STATIC_SCHEME).lstrip("/")
            path = finders.find(relative) if ".." not in relative.split("/") else None
            if path:
                content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
                with open(path, "rb") as handle:
                    body = handle.read()
                return URLFetcherResponse(url, body, {"Content-Type": content_type})
        raise ValueError(f"The packet renderer does not fetch {url[:80]!r}")


def render_html(html: str) -> bytes:
    return HTML(string=html, url_fetcher=PacketURLFetcher(), base_url=None).write_pdf()


@dataclass
class PreparedDocument:
    attachment: Attachment
    result: dict
    pages: int = 0  # pages this document takes in the packet
    note: str = ""


def packet_context(referral: Referral) -> dict:
    """Everything the summary shows. Queries: imaging, medicines, current attachments."""
    today = timezone.localdate()
    return {
        "referral": referral,
        "referrer": referral.referrer,
        "profile": getattr(referral.referrer, "referrer_profile", None),
        "age": referral.patient_age(today),
        "eligibility": referral.eligibility,
        "outstanding": [
            c
            for c in (referral.eligibility or {}).get("criteria", [])
            if c["kind"] == "workup" and c["status"] != "pass"
        ],
        "imaging": list(referral.imaging.all()),
        "medicines": list(referral.medicines.all()),
        "attachments": list(referral.attachments.filter(replaced_by__isnull=True)),
        "generated_at": timezone.localtime(),
    }


def _data_uri(path: str) -> str:
    with open(path, "rb") as handle:
        return "data:image/png;base64," + base64.b64encode(handle.read()).decode("ascii")


def build_packet(referral: Referral, output: Path, *, version: int | None = None) -> dict:
    """Render the packet for `referral` to `output`. Returns {"pages", "sha256", "size"}.

    A document that cannot be included (encrypted, broken, hostile) is listed with a note; it
    never fails the packet.
    """
    context = packet_context(referral)
    context["version"] = version
    workdir = Path(tempfile.mkdtemp(prefix="packet-"))
    try:
        items = [
            {
                "id": str(a.uuid),
                "path": a.file.path,
                "content_type": a.content_type,
                "out": str(workdir / a.uuid.hex),
            }
            for a in context["attachments"]
        ]
        results = prepare_documents(items)
        prepared = []
        for attachment in context["attachments"]:
            result = results.get(str(attachment.uuid), {"ok": False, "note": "Not prepared."})
            doc = PreparedDocument(attachment, result, note=result.get("note", ""))
            if result.get("ok"):
                doc.pages = result["pages"] if result["kind"] == "pdf" else 1
            prepared.append(doc)

        # Pages for images and DICOM summaries, all in one WeasyPrint run.
        picture_docs = [d for d in prepared if d.result.get("ok") and d.result["kind"] != "pdf"]
        for doc in picture_docs:
            png = doc.result.get("png")
            doc.image_uri = _data_uri(png) if png else None
        pictures = None
        if picture_docs:
            html = render_to_string("packets/pictures.html", {**context, "docs": picture_docs})
            pictures = PdfReader(_write(workdir / "pictures.pdf", render_html(html)))

        # The summary's document index needs each document's pages, so it is rendered last of
        # the content but placed first.
        summary_html = render_to_string("packets/summary.html", {**context, "docs": prepared})
        summary = PdfReader(_write(workdir / "summary.pdf", render_html(summary_html)))

        writer = PdfWriter()
        writer.append(summary, outline_item="Referral summary")
        picture_index = 0
        for doc in prepared:
            title = f"{doc.attachment.get_kind_display()}: {doc.attachment.original_name}"
            if not doc.result.get("ok"):
                continue
            if doc.result["kind"] == "pdf":
                writer.append(doc.result["pdf"], outline_item=title)
            else:
                writer.append(pictures, pages=(picture_index, picture_index + 1),
                              outline_item=title)  # fmt: skip
                picture_index += 1

        _stamp(writer, referral.reference, workdir)
        writer.add_metadata(
            {"/Title": f"Referral packet {referral.reference}", "/Producer": "Referral portal"}
        )
        with open(output, "wb") as handle:
            writer.write(handle)
        return {
            "pages": len(writer.pages),
            "sha256": _sha256(output),
            "size": output.stat().st_size,
            "summary_pages": len(summary.pages),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _stamp(writer: PdfWriter, reference: str, workdir: Path) -> None:
    """The reference and "page x of y" at the foot of every page, appended ones included."""
    total = len(writer.pages)
    html = render_to_string("packets/stamps.html", {"reference": reference, "total": total,
                                                     "numbers": range(1, total + 1)})  # fmt: skip
    stamps = PdfReader(_write(workdir / "stamps.pdf", render_html(html)))
    for page, stamp in zip(writer.pages, stamps.pages, strict=True):
        box = page.mediabox
        # Stamps are A4; sit each one on its page's bottom-left corner, whatever its size.
        page.merge_transformed_page(
            stamp, Transformation().translate(float(box.left), float(box.bottom))
        )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
