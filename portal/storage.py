"""Object storage for uploads, packet parts and packets (STORAGE_URL=s3://..., portal/env.py).

Files are private: they reach a browser only through the views that check access
(referrals/views/files.py), which stream them from the storage. So this storage never makes a
URL, presigned or public, that could be handed out instead.
"""

from boto3.s3.transfer import TransferConfig
from storages.backends.s3 import S3Storage

PART = 8 * 1024 * 1024  # a multipart upload's part


def bounded_transfer() -> TransferConfig:
    """Uploads in 8 MB parts, two at a time, at most two parts read ahead: a 200 MB document
    costs the web process a few tens of MB, not boto3's default of ten parts in memory and ten
    threads (about 150 MB, measured in bench/RESULTS.md)."""
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART,
                            max_concurrency=2, max_io_queue=4)  # fmt: skip
    config.max_in_memory_upload_chunks = 2
    return config


class PrivateS3Storage(S3Storage):
    querystring_auth = False

    def __init__(self, **settings):
        super().__init__(**settings)
        if "transfer_config" not in settings:
            self.transfer_config = bounded_transfer()

    def url(self, name, parameters=None, expire=None, http_method=None):
        raise NotImplementedError(
            "Stored files are served only by the views that check access, never by URL"
        )
