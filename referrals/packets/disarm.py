"""Disarm an uploaded PDF before it goes into a packet; runs in the bounded child
(referrals/packets/sandbox.py), on pikepdf (qpdf).

A PDF can act on its own in the IR's viewer: run JavaScript when it opens or a page is shown,
send a form to a web address, launch a program, open a link, carry files that the viewer offers
to open, play media. None of that belongs in a clinical packet, so this is an allow list, not
a deny list: every action is removed wherever it is referenced from (document, page,
annotation, form field, bookmark, another action's /Next), except GoTo, which only moves to a
place in the same document. Kept: the page content, internal links (/Dest or GoTo), bookmarks
with their destinations, annotations that are only drawn (comments, highlights, stamps), and a
form's filled-in values, flattened into the page by qpdf before the form itself is dropped.

pikepdf's own `pikepdf.sanitize` is narrower on purpose (it keeps forms, XFA and annotations,
and removes named action types), and it doesn't say what it removed, which the packet's
document index does.

Stream data is never read here: decoding is left to pypdf, under the child's limits.
"""

from collections import Counter

import pikepdf
from pikepdf import Array, Dictionary, Name, ObjectSet, Stream

ACTION_TYPES = frozenset(
    "GoTo GoToR GoToE GoToDp Launch Thread URI Sound Movie Hide Named SubmitForm ResetForm"
    " ImportData SetOCGState Rendition Trans GoTo3DView JavaScript RichMediaExecute".split()
)
# What each removed action counts as in the document index; any other is "actions".
ACTION_KINDS = {
    "JavaScript": "scripts",
    "Launch": "launches",
    "URI": "links",
    "GoToR": "links",
    "GoToE": "links",
    "SubmitForm": "form_actions",
    "ImportData": "form_actions",
    "ResetForm": "form_actions",
}
# Annotations dropped wherever they are referenced (a page's /Annots, a popup's /Parent).
# Widgets are the form's: counted as its fields, not here.
DROPPED_ANNOTATIONS = {
    "/FileAttachment": "embedded_files",
    "/RichMedia": "media",
    "/3D": "media",
    "/Movie": "media",
    "/Sound": "media",
    "/Screen": "media",
    "/Widget": None,
}
# Keys removed from any dictionary: actions by event (/AA), the document's opening action,
# scripts, embedded and associated files, XFA, rich media and 3D data.
DROPPED_KEYS = frozenset(
    {"/AA", "/OpenAction", "/JS", "/JavaScript", "/EF", "/AF", "/XFA", "/RichMediaContent",
     "/RichMediaSettings", "/3DD"}
)  # fmt: skip
# The catalog's /Names trees that hold active content, and what their entries count as.
DROPPED_NAME_TREES = {
    "/JavaScript": "scripts",
    "/EmbeddedFiles": "embedded_files",
    "/Renditions": "media",
    "/AlternatePresentations": "media",
    "/URLS": None,  # Web Capture: where the pages were fetched from
    "/IDS": None,
}
# The rest of the catalog that only serves active content (the form goes after flattening).
DROPPED_CATALOG_KEYS = ("/AcroForm", "/Collection", "/URI", "/NeedsRendering", "/Perms",
                        "/SpiderInfo")  # fmt: skip
MAX_TREE_NODES = 100_000  # a name or field tree bigger than this is hostile: stop counting


def disarm(pdf: pikepdf.Pdf) -> dict[str, int]:
    """Remove the active content of `pdf` in place; returns what was removed, by kind (the
    keys of referrals.packets.parts.REMOVED_WORDS)."""
    with pikepdf.explicit_conversion():  # every value a pikepdf object, never a bare int
        return _Disarm(pdf).run()


class _Disarm:
    def __init__(self, pdf: pikepdf.Pdf):
        self.pdf = pdf
        self.removed: Counter = Counter()
        self.counted = ObjectSet()  # an action or a file shared by two places counts once

    def run(self) -> dict[str, int]:
        root = self.pdf.Root
        self._drop_name_trees(root)
        self._flatten_form(root)
        for key in DROPPED_CATALOG_KEYS:
            if key in root:
                del root[key]
        self._walk(self.pdf.trailer)
        self._drop_dead_links()
        return {kind: n for kind, n in self.removed.items() if n}

    # --- counting -------------------------------------------------------------------------

    def _count_action(self, action, depth: int = 0) -> None:
        if not _is_container(action) or depth > 50 or not self.counted.add(action):
            return
        kind = ACTION_KINDS.get(_action_type(action), "actions")
        self.removed[kind] += 1
        chained = action.get("/Next")
        for following in chained if isinstance(chained, Array) else [chained]:
            self._count_action(following, depth + 1)

    def _count_file(self, filespec) -> None:
        if _is_container(filespec) and self.counted.add(filespec):
            self.removed["embedded_files"] += 1

    # --- the document's name trees and form ---------------------------------------------

    def _drop_name_trees(self, root) -> None:
        names = root.get("/Names")
        if not _is_container(names):
            return
        for key, kind in DROPPED_NAME_TREES.items():
            tree = names.get(key)
            if tree is None:
                continue
            for value in _name_tree_values(tree):
                if kind == "scripts" and _is_action(value):
                    self._count_action(value)
                elif kind == "scripts":
                    self._count_script()
                elif kind == "embedded_files":
                    self._count_file(value)
                elif kind:
                    self.removed[kind] += 1
            del names[key]

    def _count_script(self) -> None:
        self.removed["scripts"] += 1

    def _flatten_form(self, root) -> None:
        """Draw the form's fields into their pages (qpdf), then drop the form: the IR sees what
        was filled in, and nothing can be typed, calculated or submitted."""
        form = root.get("/AcroForm")
        widgets = {
            number: [a for a in _annotations(page) if _subtype(a) == "/Widget"]
            for number, page in enumerate(self.pdf.pages)
        }
        if not _is_container(form) and not any(widgets.values()):
            return
        # The fields' own actions (keystroke, format, calculate) go with them: counted first.
        fields = form.get("/Fields") if _is_container(form) else None
        every_widget = [w for page in widgets.values() for w in page]
        for node in _tree_nodes(*(fields if isinstance(fields, Array) else []), *every_widget):
            self._count_key(node, "/AA", node.get("/AA"))
            action = node.get("/A")
            if _is_action(action) and _action_type(action) != "GoTo":
                self._count_action(action)
        if _is_container(form):
            self.removed["form_fields"] += _count_fields(fields)
            if "/XFA" in form:
                self.removed["xfa"] += 1
                del form["/XFA"]
        else:  # widgets without a form: still fields to the reader
            self.removed["form_fields"] += sum(len(w) for w in widgets.values())
        # qpdf flattens every annotation that has an appearance, links included; the links
        # stay, so only the widgets are on the pages while it runs.
        others = {}
        for number, page in enumerate(self.pdf.pages):
            annots = _annotations(page)
            if annots:
                others[number] = [a for a in annots if _subtype(a) != "/Widget"]
                page.obj["/Annots"] = Array(widgets[number])
        try:
            self.pdf.generate_appearance_streams()  # only where the form asks for new ones
            self.pdf.flatten_annotations("all")
        except pikepdf.PdfError:
            pass  # a form qpdf cannot draw: its fields are dropped below, values and all
        for number, page in enumerate(self.pdf.pages):
            if number in others:  # and widgets qpdf left (hidden, or never drawn) go
                page.obj["/Annots"] = Array(others[number])

    # --- every object -------------------------------------------------------------------

    def _walk(self, start) -> None:
        """Visit every object reachable from the trailer once, removing on the way."""
        seen = ObjectSet()
        pending = [start]
        while pending:
            obj = pending.pop()
            if isinstance(obj, Array):
                children = self._clean_array(obj)
            else:
                children = self._clean_dictionary(obj)
            for child in children:
                if _is_container(child) or isinstance(child, Array):
                    if not child.is_indirect or seen.add(child):
                        pending.append(child)

    def _clean_dictionary(self, obj) -> list:
        children = []
        for key in list(obj.keys()):
            value = obj.get(key)
            if key in DROPPED_KEYS:
                self._count_key(obj, key, value)
                del obj[key]
            elif self._dropped(value):
                del obj[key]
            else:
                children.append(value)
        return children

    def _clean_array(self, array) -> list:
        for index in reversed(range(len(array))):
            if self._dropped(array[index]):
                del array[index]
        return list(array)

    def _count_key(self, holder, key: str, value) -> None:
        if key == "/AA" and _is_container(value):
            for event in value.keys():
                self._count_action(value.get(event))
        elif key == "/OpenAction":
            if _is_action(value):  # not when it only says which page to open at
                self._count_action(value)
        elif key in ("/JS", "/JavaScript"):
            if self.counted.add(holder):
                self._count_script()
        elif key == "/EF":
            self._count_file(holder)
        elif key == "/AF":
            for spec in value if isinstance(value, Array) else [value]:
                if _is_container(spec) and "/EF" in spec:
                    self._count_file(spec)
        elif key == "/XFA":
            self.removed["xfa"] += 1

    def _dropped(self, value) -> bool:
        """Whether a reference to `value` goes (counted): an action other than GoTo, an
        annotation of a dropped kind, an embedded file's data."""
        if not _is_container(value):
            return False
        if _is_action(value):
            if _action_type(value) == "GoTo":
                return False  # kept; its /Next, if any, is cleaned when it is visited
            self._count_action(value)
            return True
        subtype = _subtype(value)
        if subtype in DROPPED_ANNOTATIONS:
            kind = DROPPED_ANNOTATIONS[subtype]
            if kind == "embedded_files":
                spec = value.get("/FS")
                self._count_file(spec if _is_container(spec) else value)
            elif kind and self.counted.add(value):
                self.removed[kind] += 1
            return True
        if value.get("/Type") == Name.EmbeddedFile:
            self._count_file(value)
            return True
        return False

    def _drop_dead_links(self) -> None:
        """A link whose action was removed goes too: it would only be a box that does nothing."""
        for page in self.pdf.pages:
            annots = _annotations(page)
            alive = [a for a in annots if _subtype(a) != "/Link" or "/A" in a or "/Dest" in a]
            if len(alive) != len(annots):
                page.obj["/Annots"] = Array(alive)


def _is_container(obj) -> bool:
    return isinstance(obj, (Dictionary, Stream))


def _is_action(obj) -> bool:
    if not _is_container(obj) or obj.get("/Type") == Name.StructElem:
        return False  # a structure element's /S is its role, which may be any name
    return _action_type(obj) in ACTION_TYPES or obj.get("/Type") == Name.Action


def _action_type(action) -> str:
    """/S without its slash; a string where a name belongs counts the same, as a lenient
    viewer might read it."""
    kind = action.get("/S")
    return str(kind).removeprefix("/") if kind is not None else ""


def _subtype(obj) -> str | None:
    return str(obj.get("/Subtype")) if _is_container(obj) and "/Subtype" in obj else None


def _annotations(page) -> list:
    annots = page.obj.get("/Annots")
    return list(annots) if isinstance(annots, Array) else []


def _tree_nodes(*starts):
    """The nodes of a name or field tree, each once, at most MAX_TREE_NODES."""
    seen = ObjectSet()
    pending = list(starts)
    visited = 0
    while pending and visited < MAX_TREE_NODES:
        node = pending.pop()
        if not _is_container(node) or (node.is_indirect and not seen.add(node)):
            continue
        visited += 1
        yield node
        kids = node.get("/Kids")
        if isinstance(kids, Array):
            pending.extend(kids)


def _name_tree_values(tree) -> list:
    values = []
    for node in _tree_nodes(tree):
        names = node.get("/Names")
        if isinstance(names, Array):
            values.extend(names[index] for index in range(1, len(names), 2))
    return values


def _count_fields(fields) -> int:
    """Terminal fields: those whose kids (if any) are only their widgets, not more fields."""
    if not isinstance(fields, Array):
        return 0
    count = 0
    for node in _tree_nodes(*fields):
        kids = node.get("/Kids")
        if "/T" in node and not (
            isinstance(kids, Array) and any(_is_container(k) and "/T" in k for k in kids)
        ):
            count += 1
    return count
