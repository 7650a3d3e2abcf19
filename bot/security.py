"""Request-level protections every route shares (issue 18): the body size limit, proxy trust,
development mode's loopback-only rule, and the browser hardening headers.

* ``MAX_CONTENT_LENGTH``: a declared body larger than the limit is answered 413 before anything
  reads it, on every route (Flask's own check covers only routes that read the body, and a chunked
  body is cut off by werkzeug's limited stream at the same limit).
* ``TRUSTED_PROXIES``: werkzeug's ProxyFix trusts that many X-Forwarded-For hops; with 0 (the
  default) ``request.remote_addr`` is the TCP peer and a forged header changes nothing.
* Development mode (``BOT_ENV=development``, bot.config.resolve_mode) answers only loopback
  clients that asked for a loopback host and came through no proxy: its /dev routes sign webhooks
  as anyone and grant roles, so they must never be reachable from another machine, whatever
  address the server was bound to (a DNS-rebinding page or a tunnel included).
* HTML answers carry a CSP (scripts only from this origin or with the request's nonce), and every
  answer ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy``
  (the sign, PDF and export links are bearer tokens in the path: no referrer may carry them).
"""
from __future__ import annotations

import secrets
from urllib.parse import quote

from flask import Flask, abort, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.config import is_loopback

CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Forwarded")


def csp_nonce() -> str:
    """This request's script nonce (templates: ``<script nonce="{{ csp_nonce() }}">``)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_disposition(disposition: str, filename: str) -> str:
    """A Content-Disposition header value safe for any filename (one may carry a user's value such
    as ``?program=``): an ASCII fallback without quotes, backslashes or control characters, and the
    real name in RFC 5987 ``filename*`` when it is not plain ASCII. A CR/LF can no longer split the
    header (werkzeug refuses such a header with a 500)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename) or "download"
    value = f'{disposition}; filename="{fallback}"'
    if fallback != filename:
        cleaned = "".join(c for c in filename if c.isprintable())
        value += f"; filename*=UTF-8''{quote(cleaned, safe='')}"
    return value


def init_app(app: Flask) -> None:
    development = app.config["BOT_ENV"] == "development"
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies and not development:  # development is loopback-only: no proxy may stand in front
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = str(app.config.get("PUBLIC_BASE_URL", "")).startswith("https://")
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.before_request
    def guard():
        if development and not _local_request():
            abort(403)
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit and (request.content_length or 0) > limit:
            abort(413)

    @app.after_request
    def harden(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
        if response.status_code == 413:
            # The client may still be sending the body it announced: close rather than read it.
            response.headers["Connection"] = "close"
        return response


def _local_request() -> bool:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return (is_loopback(request.remote_addr) and is_loopback(host)
            and not any(name in request.headers for name in FORWARDING_HEADERS))
