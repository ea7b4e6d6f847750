"""The packet's PDF primitives: WeasyPrint with a fetcher that reads nothing it was not given,
and the reference and page numbers stamped on every page of a finished packet."""

from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject


# WeasyPrint (with Pango behind it) takes over a second to import: it is loaded when a PDF is
# first rendered (referrals/packets/fetcher.py), not by every process that imports this module
# (the web, the HL7 receivers) and never renders.
def __getattr__(name):
    if name == "PacketURLFetcher":
        from referrals.packets.fetcher import PacketURLFetcher

        return PacketURLFetcher
    raise AttributeError(name)


def render_document(html: str, *, files: dict[str, str] | None = None):
    """Lay out `html` with the packet's fetcher; a WeasyPrint Document (pages, write_pdf)."""
    from weasyprint import HTML

    from referrals.packets.fetcher import PacketURLFetcher

    return HTML(string=html, url_fetcher=PacketURLFetcher(files=files), base_url=None).render()


def render_html(html: str) -> bytes:
    return render_document(html).write_pdf()


# The stamp is drawn straight into each page's content in Helvetica, one of the PDF's standard
# fonts (every viewer has it, nothing is embedded). Its advance widths, in thousandths of the
# font size, for the characters of "Page N of M", so the page number can be set flush right.
STAMP_FONT_SIZE = 7
STAMP_MARGIN = 42.52  # 15 mm in points, from the left and right edges
STAMP_BASELINE = 17.0  # 6 mm in points, from the bottom edge
HELVETICA_WIDTHS = {" ": 278, "P": 667, "a": 556, "g": 556, "e": 556, "o": 556, "f": 278,
                    **dict.fromkeys("0123456789", 556)}  # fmt: skip
STAMP_FONT = "/PortalStamp"


STAMP_PATIENT_MAX = 90  # characters of the patient's line kept, so it never meets "Page x of y"


def stamp(writer: PdfWriter, reference: str, *, patient: str = "") -> None:
    """The reference, the patient (name, date of birth, Medicare number: whoever holds a loose
    page knows whose it is) and "page x of y" at the foot of every page, appended ones
    included, on a white strip so a document's own content cannot hide them.

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
    line = f"Referral {reference}"
    if patient:
        patient = patient if len(patient) <= STAMP_PATIENT_MAX else patient[:88] + "..."
        line = f"{line} \u00b7 {patient}"
    reference_text = _pdf_string(line)
    for number, page in enumerate(writer.pages, start=1):
        matrix, width = _upright(page)
        label = f"Page {number} of {total}"
        label_width = sum(HELVETICA_WIDTHS[c] for c in label) * STAMP_FONT_SIZE / 1000
        ops = (
            f"Q q {' '.join(f'{v:.4f}' for v in matrix)} cm "
            f"1 g {STAMP_MARGIN - 2:.2f} {STAMP_BASELINE - 2.5:.2f} "
            f"{width - 2 * STAMP_MARGIN + 4:.2f} {STAMP_FONT_SIZE + 4:.2f} re f "
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
    """A PDF literal string in the stamp font's WinAnsi encoding (cp1252: accented names
    print as written); a character it lacks becomes ?, and each byte past ASCII an escape."""
    out = []
    for byte in text.encode("cp1252", errors="replace"):
        char = chr(byte)
        if char in "\\()":
            out.append("\\" + char)
        elif 32 <= byte <= 126:
            out.append(char)
        elif byte >= 128:
            out.append(f"\\{byte:03o}")
        else:
            out.append("?")
    return "(" + "".join(out) + ")"


def _content(writer: PdfWriter, data: bytes):
    stream = DecodedStreamObject()
    stream.set_data(data)
    return writer._add_object(stream)
