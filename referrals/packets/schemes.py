"""The URL schemes the packet renderer's fetcher reads (referrals/packets/fetcher.py): the
portal's own static files, and the files one render was given. Here, not in the fetcher,
because the fetcher imports WeasyPrint and what writes these URLs need not."""

STATIC_SCHEME = "portal-static:"
FILE_SCHEME = "packet-file:"
