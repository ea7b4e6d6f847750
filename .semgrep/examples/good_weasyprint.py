"""Calls that weasyprint-unrestricted-fetcher must leave alone."""

import weasyprint
from weasyprint import CSS, HTML, Attachment
from weasyprint.urls import URLFetcher


class OnlyDataURIs(URLFetcher):
    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        raise ValueError(f"refused {url[:80]!r}")


def _no_fetch(url, *args, **kwargs):
    raise ValueError("nothing is fetched")


def restricted_class(html):
    return HTML(string=html, url_fetcher=OnlyDataURIs(), base_url=None).write_pdf()


def restricted_function(html):
    return weasyprint.HTML(string=html, url_fetcher=_no_fetch).write_pdf()


def restricted_everywhere(html, path):
    fetcher = OnlyDataURIs()
    sheet = CSS(string="body { margin: 0 }", url_fetcher=fetcher)
    extra = Attachment(filename=path, url_fetcher=fetcher)
    document = HTML(string=html, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[sheet], attachments=[extra])


def data_uris_only(html):
    fetcher = URLFetcher(allowed_protocols=["data"])
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def data_uris_only_inline(html):
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()


def make_fetcher(fallback):
    return OnlyDataURIs()


def factory_given_none(html):
    return HTML(string=html, url_fetcher=make_fetcher(None)).write_pdf()


def unrelated_html(text):
    """A function called HTML from elsewhere is not WeasyPrint."""
    from html import escape as HTML

    return HTML(text)
