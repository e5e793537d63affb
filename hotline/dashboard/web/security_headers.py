"""Security headers for every dashboard response, static files and error pages included."""

from __future__ import annotations

from flask import Flask, Response, request

PREFIX = "/dashboard"
# Self only, and no script at all: the pages are server-rendered, charts are inline SVG with
# presentation attributes (not style attributes, which 'self' would block), the live view
# refreshes with <meta http-equiv="refresh">.
CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"


def apply(response: Response, https: bool) -> Response:
    """Add the headers; data pages (everything but static files) are never cached."""
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if https:
        headers["Strict-Transport-Security"] = HSTS
    if request.path.startswith(f"{PREFIX}/static/"):
        headers["Cache-Control"] = "public, max-age=3600"
    else:
        # Call logs on a shared computer must not come back from the cache or the back button.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    """Register the headers on the app (not the blueprint), so unknown dashboard URLs get them."""
    https = app.config["SETTINGS"].public_base_url.startswith("https://")

    @app.after_request
    def _dashboard_headers(response: Response) -> Response:
        if request.path == PREFIX or request.path.startswith(f"{PREFIX}/"):
            apply(response, https)
        return response
