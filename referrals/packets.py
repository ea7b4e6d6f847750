"""The referral packet: one PDF an IR reads instead of a web page. A plain function of the
referral, testable without Celery; referrals/tasks.py calls it.

Assembly: a WeasyPrint summary, then each document's packet part in upload order, each with a
bookmark (referrals/parts.py made the parts once, when the documents were uploaded; any still
pending is made here), then the reference and "page x of y" stamped on every page, appended
ones included. Only the summary is rendered per version: the rest is pypdf copying pages.
"""

import hashlib
import mimetypes
from contextlib import ExitStack
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from referrals.documents import format_count
from referrals.models import Attachment, Referral
from referrals.parts import attachments_prepare

STATIC_SCHEME = "portal-static:"


class PacketURLFetcher(URLFetcher):
    """Lets WeasyPrint read only data: URIs, the portal's own static files, and the files this
    one render was given by exact URL (a document's re-encoded image, for its part).

    Anything else (file:, http:, a relative path) is refused, so no text in a referral can make
    the renderer read a local file or reach the network.
    """

    FILE_SCHEME = "packet-file:"

    def __init__(self, *args, files: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.files = dict(files or {})

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url in self.files:
            return self._file(url, self.files[url])
        if url.startswith(STATIC_SCHEME):
            relative = url.removeprefix(STATIC_SCHEME).lstrip("/")
            path = finders.find(relative) if ".." not in relative.split("/") else None
            if path:
                return self._file(url, path)
        raise ValueError(f"The packet renderer does not fetch {url[:80]!r}")

    @staticmethod
    def _file(url: str, path: str) -> URLFetcherResponse:
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        with open(path, "rb") as handle:
            body = handle.read()
        return URLFetcherResponse(url, body, {"Content-Type": content_type})


def render_document(html: str, *, files: dict[str, str] | None = None):
    """Lay out `html` with the packet's fetcher; a WeasyPrint Document (pages, write_pdf)."""
    return HTML(string=html, url_fetcher=PacketURLFetcher(files=files), base_url=None).render()


def render_html(html: str) -> bytes:
    return render_document(html).write_pdf()


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


def build_packet(referral: Referral, output: Path, *, version: int | None = None) -> dict:
    """Render the packet for `referral` to `output`. Returns {"pages", "sha256", "size"}.

    A document that cannot be included (encrypted, broken, hostile) is listed with a note; it
    never fails the packet.
    """
    context = packet_context(referral)
    context["version"] = version
    attachments = context["attachments"]
    attachments_prepare(attachments)  # only those not prepared yet: usually none
    summary = _summary_within_limit(context)
    writer = PdfWriter()
    writer.append(summary, outline_item="Referral summary")
    with ExitStack() as files:
        for attachment in attachments:
            if attachment.part_status != Attachment.PartStatus.READY or attachment.packet_note:
                continue
            part = files.enter_context(attachment.part.open("rb"))
            writer.append(
                PdfReader(part),
                outline_item=f"{attachment.get_kind_display()}: {attachment.original_name}",
            )
        _stamp(writer, referral.reference)
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


def _summary_within_limit(context: dict) -> PdfReader:
    """The rendered summary, having left out (with a note, `packet_note`) each document that
    would take the packet past PACKET_MAX_PAGES. Uploads are refused before that, so this is
    a backstop. The summary's length is known only once rendered: when the limit bites, it is
    rendered again with room made for itself."""
    limit = settings.PACKET_MAX_PAGES
    note = f"Left out: the packet would pass {format_count(limit)} pages."
    own_pages = 0
    for _attempt in range(3):
        room = limit - own_pages
        for attachment in context["attachments"]:
            attachment.packet_note = ""
            if attachment.part_status == Attachment.PartStatus.READY:
                if attachment.part_pages > room:
                    attachment.packet_note = note
                else:
                    room -= attachment.part_pages
        html = render_to_string("packets/summary.html", context)
        summary = PdfReader(BytesIO(render_html(html)))
        if len(summary.pages) <= own_pages + room:
            break
        own_pages = len(summary.pages)
    return summary


# The stamp is drawn straight into each page's content in Helvetica, one of the PDF's standard
# fonts (every viewer has it, nothing is embedded). Its advance widths, in thousandths of the
# font size, for the characters of "Page N of M", so the page number can be set flush right.
STAMP_FONT_SIZE = 7
STAMP_MARGIN = 42.52  # 15 mm in points, from the left and right edges
STAMP_BASELINE = 17.0  # 6 mm in points, from the bottom edge
HELVETICA_WIDTHS = {" ": 278, "P": 667, "a": 556, "g": 556, "e": 556, "o": 556, "f": 278,
                    **dict.fromkeys("0123456789", 556)}  # fmt: skip
STAMP_FONT = "/PortalStamp"


def _stamp(writer: PdfWriter, reference: str) -> None:
    """The reference and "page x of y" at the foot of every page, appended ones included.

    Each page's own content is wrapped in q ... Q (so whatever state it leaves does not move
    the stamp), and the stamp is drawn upright at the bottom of the page as it is shown, whatever
    its size and /Rotate. Nothing on the page is decoded or rewritten.
    """
    total = len(writer.pages)
    # PdfWriter._add_object is how pypdf itself adds an indirect object (streams must be one).
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    save = _content(writer, b"q\n")
    reference_text = _pdf_string(f"Referral {reference}")
    for number, page in enumerate(writer.pages, start=1):
        matrix, width = _upright(page)
        label = f"Page {number} of {total}"
        label_width = sum(HELVETICA_WIDTHS[c] for c in label) * STAMP_FONT_SIZE / 1000
        ops = (
            f"Q q {' '.join(f'{v:.4f}' for v in matrix)} cm "
            f"BT {STAMP_FONT} {STAMP_FONT_SIZE} Tf 0.2 g "
            f"{STAMP_MARGIN:.2f} {STAMP_BASELINE:.2f} Td {reference_text} Tj "
            f"{width - 2 * STAMP_MARGIN - label_width:.2f} 0 Td {_pdf_string(label)} Tj ET Q\n"
        )
        contents = page.get("/Contents")
        own = []
        if contents is not None:
            resolved = contents.get_object()
            own = list(resolved) if isinstance(resolved, ArrayObject) else [contents]
        stamp = _content(writer, ops.encode("ascii"))
        page[NameObject("/Contents")] = ArrayObject([save, *own, stamp])
        resources = page.get("/Resources")
        if resources is None:
            resources = page[NameObject("/Resources")] = DictionaryObject()
        resources = resources.get_object()
        fonts = resources.get("/Font")
        if fonts is None:
            fonts = resources[NameObject("/Font")] = DictionaryObject()
        fonts.get_object()[NameObject(STAMP_FONT)] = font


def _upright(page) -> tuple[tuple[float, ...], float]:
    """The matrix that puts (0, 0) at the bottom-left corner of the page as shown, x along its
    bottom edge, and that edge's length. /Rotate turns the shown page clockwise."""
    box = page.mediabox
    left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    rotation = page.rotation % 360
    if rotation == 90:
        return (0, 1, -1, 0, right, bottom), top - bottom
    if rotation == 180:
        return (-1, 0, 0, -1, right, top), right - left
    if rotation == 270:
        return (0, -1, 1, 0, left, top), top - bottom
    return (1, 0, 0, 1, left, bottom), right - left


def _pdf_string(text: str) -> str:
    """A PDF literal string of printable ASCII (a reference is; anything else becomes ?)."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return "(" + printable.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _content(writer: PdfWriter, data: bytes):
    stream = DecodedStreamObject()
    stream.set_data(data)
    return writer._add_object(stream)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
