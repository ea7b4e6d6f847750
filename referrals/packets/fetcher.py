"""The packet renderer's URL fetcher (imports WeasyPrint: loaded only when a PDF is rendered,
by referrals/packets/pdf.py)."""

import mimetypes

from django.contrib.staticfiles import finders
from weasyprint.urls import URLFetcher, URLFetcherResponse

from referrals.packets.schemes import FILE_SCHEME, STATIC_SCHEME


class PacketURLFetcher(URLFetcher):
    """Lets WeasyPrint read only data: URIs, the portal's own static files, and the files this
    one render was given by exact URL (a document's re-encoded image, for its part).

    Anything else (file:, http:, a relative path) is refused, so no text in a referral can make
    the renderer read a local file or reach the network.
    """

    FILE_SCHEME = FILE_SCHEME

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
