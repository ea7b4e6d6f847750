"""A browser's worth of HTTP for the cluster test: cookies (the session), the CSRF token sent
back in X-CSRFToken, multipart uploads, and redirects reported rather than followed."""

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )
        self.sign_ins = 0
        self.sent_to_sign_in = 0  # answers that sent this signed-in client back to sign in

    def _cookie(self, name: str) -> str:
        return next((c.value for c in self.cookies if c.name == name), "")

    def request(self, method: str, path: str, *, data: dict | None = None,
                files: dict | None = None, timeout: float = 60) -> Response:  # fmt: skip
        headers = {"X-CSRFToken": self._cookie("csrftoken")}
        body = None
        if files:
            boundary = uuid.uuid4().hex
            body = _multipart(boundary, data or {}, files)
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = self.base + path  # http:// to the test's own hosts
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                response = Response(answer.status, _lower(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            response = Response(error.code, _lower(error.headers), error.read())
        if self.sign_ins and "/accounts/login/" in response.location:
            self.sent_to_sign_in += 1
        return response

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> Response:
        return self.request("POST", path, data=data or {}, **kwargs)

    def sign_in(self, email: str, password: str) -> None:
        self.get("/accounts/login/")  # the CSRF cookie
        answer = self.post("/accounts/login/", {"username": email, "password": password})
        if answer.status != 302:
            raise AssertionError(f"sign-in of {email} answered {answer.status}")
        self.sign_ins += 1


def _lower(headers) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def _multipart(boundary: str, fields: dict, files: dict) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())  # fmt: skip
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)
