"""A small HTTP client for the bench (standard library only): one signed-in browser session.

It keeps cookies like a browser (the session cookie, the CSRF cookie, which Django rotates at
sign-in), sends the CSRF token with every POST, and times each request from connect to the last
byte of the body. Bodies can be streamed from a file, so a 200 MB upload never sits in memory.
"""

import hashlib
import hmac
import http.client
import json
import os
import struct
import time
import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

HOST = "127.0.0.1"  # the bench only ever talks to this machine


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


class RequestFailed(Exception):
    """Not the status expected, or no response at all."""


class Session:
    def __init__(self, port: int, *, timeout: float = 120.0):
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    @property
    def csrf_token(self) -> str:
        return self.cookies.get("csrftoken", "")

    def request(self, method: str, path: str, *, body=None, headers=None, length=None):
        """One request on a new connection (gunicorn's sync workers close after each one).

        `body` is bytes, or an iterable of bytes with `length` given (streamed as it is read).
        """
        headers = {"Host": f"{HOST}:{self.port}", "User-Agent": "portal-bench", **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            headers.setdefault("X-CSRFToken", self.csrf_token)
            headers["Content-Length"] = str(len(body) if isinstance(body, bytes) else length or 0)
        started = time.perf_counter()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            if isinstance(body, bytes):
                connection.send(body)
            elif body is not None:
                for chunk in body:
                    connection.send(chunk)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        for header in response.msg.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(response.status, dict(response.getheaders()), data, seconds)

    def get(self, path: str, *, expect=(200,)) -> Response:
        response = self.request("GET", path)
        _expect(response, expect, "GET", path)
        return response

    def post_form(self, path: str, data: dict, *, expect=(200, 302)) -> Response:
        body = urlencode({"csrfmiddlewaretoken": self.csrf_token, **data}).encode()
        response = self.request(
            "POST", path, body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        _expect(response, expect, "POST", path)
        return response

    def post_json(self, path: str, payload, *, expect=(200,)) -> Response:
        response = self.request(
            "POST", path, body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        _expect(response, expect, "POST", path)
        return response

    def post_file(self, path: str, fields: dict, file_field: str, file_path, *, expect=(302,)):
        """A multipart POST whose file part is streamed from disk in 1 MB chunks."""
        boundary = f"bench{uuid.uuid4().hex}"
        before = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            .encode()
            for name, value in {"csrfmiddlewaretoken": self.csrf_token, **fields}.items()
        )  # fmt: skip
        name = os.path.basename(file_path)
        before += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        after = f"\r\n--{boundary}--\r\n".encode()
        size = os.path.getsize(file_path)

        def chunks():
            yield before
            with open(file_path, "rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    yield chunk
            yield after

        response = self.request(
            "POST", path, body=chunks(), length=len(before) + size + len(after),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )  # fmt: skip
        _expect(response, expect, "POST", path)
        return response

    def login(self, email: str, password: str, *, totp_key: str | None = None) -> None:
        """Sign in through the portal's own sign-in page, as a browser does; with `totp_key`
        (hex), then enter the authenticator's current code on the two-factor page."""
        self.get("/accounts/login/")
        self.post_form("/accounts/login/", {"username": email, "password": password}, expect=(302,))
        if "portal_session" not in self.cookies:
            raise RequestFailed(f"signing in as {email} gave no session cookie")
        if totp_key:
            self.get("/accounts/two-factor/")
            response = self.post_form(
                "/accounts/two-factor/", {"token": totp(totp_key)}, expect=(302,)
            )
            if "/accounts/" in response.headers.get("Location", ""):
                raise RequestFailed(f"the two-factor code of {email} was refused")


def totp(key_hex: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """The RFC 6238 code of an authenticator (django-otp's TOTPDevice defaults)."""
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return f"{code:0{digits}d}"


def _expect(response: Response, expect, method: str, path: str) -> None:
    if response.status not in expect:
        raise RequestFailed(
            f"{method} {path}: HTTP {response.status}, expected {expect}: {response.body[:300]!r}"
        )
