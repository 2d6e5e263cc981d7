"""Pure ASGI middleware: signed sessions, body limit, CSRF and Origin checks, security headers."""
from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

import itsdangerous
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FORM_KEY = "handoff.form"  # where a form body's fields wait for the route (routes.common.form_data)
BODY_SEND = "handoff.body_send"  # the send outside the layers that act on a response's start only
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors {ancestors}; base-uri 'none'; object-src 'none'")
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
EMBEDDABLE = ("/", "/chat/")  # the visitor's chat, which widget.js frames on the embedding sites


def framing(embedders: tuple[str, ...] | None) -> list[tuple[bytes, bytes]]:
    """CSP and X-Frame-Options for pages no site may frame (None), or that this server and `embedders` may.

    X-Frame-Options cannot name other sites: it is sent only where frame-ancestors names none, for browsers
    that know no CSP."""
    if embedders is None:
        ancestors, legacy = "'none'", b"DENY"
    else:
        ancestors, legacy = " ".join(("'self'",) + embedders), None if embedders else b"SAMEORIGIN"
    return ([(b"content-security-policy", CSP.format(ancestors=ancestors).encode())]
            + ([(b"x-frame-options", legacy)] if legacy else []))


def csrf_token(session: dict) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


class RememberingSigner(itsdangerous.TimestampSigner):
    """Checks each distinct signed cookie once, then remembers what it carried and when it was signed.

    A visitor or counsellor sends the same cookie with every message, and checking its signature was a
    good part of a message's cost. The cookie's age is still checked every time; only cookies whose
    signature was good are remembered, keyed by the whole signed value.
    """

    def __init__(self, secret_key: str, size: int = 10_000) -> None:
        super().__init__(secret_key)
        self.size = size
        self.verified: dict[bytes, tuple[bytes, int]] = {}

    def unsign(self, signed_value, max_age=None, return_timestamp=False):
        if return_timestamp or max_age is None:
            return super().unsign(signed_value, max_age, return_timestamp)
        known = self.verified.get(signed_value)
        if known is not None and 0 <= int(time.time()) - known[1] <= max_age:
            return known[0]
        value, signed_at = super().unsign(signed_value, max_age, return_timestamp=True)  # raises when bad or old
        if len(self.verified) >= self.size:
            del self.verified[next(iter(self.verified))]  # the oldest first
        self.verified[signed_value] = value, int(signed_at.timestamp())
        return value


class Sessions(SessionMiddleware):
    """Starlette's signed-cookie sessions, same cookie, with each cookie's signature checked once."""

    def __init__(self, app: ASGIApp, secret_key: str, **options) -> None:
        super().__init__(app, secret_key, **options)
        self.signer = RememberingSigner(secret_key)


def _decoded(content_type: str, body: bytes) -> tuple[bool, list[tuple[str, str]] | None]:
    """Whether the body is UTF-8 text, percent-escapes included (the form parser would otherwise store
    mojibake), and a form body's fields, parsed once here for the route."""
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            return True, parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=1000)
        if kind in ("multipart/form-data", "application/json", "text/plain"):
            body.decode("utf-8")
    except (UnicodeDecodeError, ValueError):
        return False, None
    return True, None


class SecurityHeaders:
    """The headers every response carries; all but static files also `Cache-Control: no-store`: pages show
    transcripts, one-time passwords and CSRF tokens, which no browser or proxy cache may keep. Only the
    visitor's chat may be framed, by this server and the `embedders` (widget.js)."""

    def __init__(self, app: ASGIApp, https: bool = False, cacheable: str = "/static/",
                 embedders: tuple[str, ...] = ()) -> None:
        self.app = app
        common = HEADERS + ([(b"strict-transport-security", b"max-age=31536000")] if https else [])
        self.headers = common + framing(None)
        self.private = self.headers + [(b"cache-control", b"no-store")]
        self.embeddable = common + framing(embedders) + [(b"cache-control", b"no-store")]
        self.cacheable = cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        extra = (self.headers if path.startswith(self.cacheable)
                 else self.embeddable if path == EMBEDDABLE[0] or path.startswith(EMBEDDABLE[1]) else self.private)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in names]
            await send(message)

        # This layer, the session's and the router's act on a response's start alone: a stream's events, a
        # few hundred bytes each and most of what a busy server sends, go past them (routes.common.EventStream).
        scope[BODY_SEND] = send
        await self.app(scope, receive, send_with_headers)


class RefuseNul:
    """400 for a NUL anywhere in the address: PostgreSQL can neither store nor compare it, so no lookup may see one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"].lower()
                                        or b"\x00" in scope["query_string"]):
            return await PlainTextResponse("The address contains a character that is not allowed.",
                                           status_code=400)(scope, receive, send)
        await self.app(scope, receive, send)


class CsrfAndBodyLimit:
    """Reads unsafe requests' bodies up to a limit, then checks Origin and the CSRF token before the app sees them.

    Must sit inside the session middleware: the expected token lives in the signed session.
    The JSON API is exempt: it authenticates with a bearer token, not a cookie.
    """

    def __init__(self, app: ASGIApp, max_body: int = 65536, exempt: tuple[str, ...] = ("/api/",)) -> None:
        self.app = app
        self.max_body = max_body
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > self.max_body):
            return await self._reject(scope, receive, send, 413, "Request body too large.")
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                return await self._reject(scope, receive, send, 413, "Request body too large.")
        readable, fields = _decoded(headers.get("content-type", ""), bytes(body))
        if not readable:
            return await self._reject(scope, receive, send, 400, "The request could not be read: it is not UTF-8 text.")
        if not scope["path"].startswith(self.exempt):
            problem = self._check(scope, headers, fields)
            if problem:
                return await self._reject(scope, receive, send, 403, problem)
        if fields is not None:
            scope[FORM_KEY] = fields

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _check(self, scope: Scope, headers: dict[str, str], fields: list[tuple[str, str]] | None) -> str | None:
        origin = headers.get("origin")
        if origin and origin != "null":
            host = headers.get("host", "")
            if urlsplit(origin).netloc != host:
                return "Cross-origin request refused."
        expected = scope.get("session", {}).get("csrf")
        sent = headers.get("x-csrf-token")
        if sent is None and fields is not None:
            sent = next((value for name, value in fields if name == "csrf_token"), None)
        if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode("utf-8", "replace")):
            return "Missing or wrong CSRF token. Reload the page and try again."
        return None

    async def _reject(self, scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
        await PlainTextResponse(text, status_code=status)(scope, receive, send)
