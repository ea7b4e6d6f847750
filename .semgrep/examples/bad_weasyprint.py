"""Each call marked `ruleid:` must be reported by weasyprint-unrestricted-fetcher."""

import weasyprint
import weasyprint as wp
from weasyprint import CSS, HTML, Attachment
from weasyprint.urls import URLFetcher


def no_fetcher(html):
    # ruleid: weasyprint-unrestricted-fetcher
    return HTML(string=html).write_pdf()


def no_fetcher_module(html):
    # ruleid: weasyprint-unrestricted-fetcher
    return weasyprint.HTML(string=html, base_url="/").write_pdf()


def no_fetcher_alias(html):
    # ruleid: weasyprint-unrestricted-fetcher
    return wp.HTML(string=html).write_pdf()


def stylesheet_without_fetcher(html, fetcher):
    # ruleid: weasyprint-unrestricted-fetcher
    sheet = CSS(string="@import url('file:///etc/passwd');")
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[sheet])


def attachment_without_fetcher(html, fetcher, path):
    # ruleid: weasyprint-unrestricted-fetcher
    extra = Attachment(filename=path)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(attachments=[extra])


def local_import(html):
    from weasyprint import HTML as Renderer

    # ruleid: weasyprint-unrestricted-fetcher
    return Renderer(string=html).write_pdf()


def fetcher_none(html):
    # ruleid: weasyprint-unrestricted-fetcher
    return HTML(string=html, url_fetcher=None).write_pdf()


def every_protocol(html):
    # ruleid: weasyprint-unrestricted-fetcher
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=None)).write_pdf()


def module_fetcher_class(html):
    # ruleid: weasyprint-unrestricted-fetcher
    return HTML(string=html, url_fetcher=weasyprint.URLFetcher(timeout=5)).write_pdf()


def base_fetcher(html):
    # ruleid: weasyprint-unrestricted-fetcher
    return HTML(string=html, url_fetcher=URLFetcher()).write_pdf()


def splat(html, **options):
    # ruleid: weasyprint-unrestricted-fetcher
    return HTML(string=html, **options).write_pdf()
