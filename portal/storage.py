"""Object storage for uploads, packet parts and packets (STORAGE_URL=s3://..., portal/env.py).

Files are private: they reach a browser only through the views that check access
(referrals/views/files.py), which stream them from the storage. So this storage never makes a
URL, presigned or public, that could be handed out instead.
"""

from storages.backends.s3 import S3Storage


class PrivateS3Storage(S3Storage):
    querystring_auth = False

    def url(self, name, parameters=None, expire=None, http_method=None):
        raise NotImplementedError(
            "Stored files are served only by the views that check access, never by URL"
        )
