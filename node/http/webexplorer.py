"""The web explorer: one HTML page, its script and its style, served by every node at
``/explorer`` beside the JSON API it reads.

The page is static (``node/http/static/``, package data) and asks the JSON routes for
everything it shows, so it works offline and needs no template engine. The script builds every
piece of text with ``textContent`` (never ``innerHTML``), so a member attribute such as
``<script>`` is shown as text; the Content-Security-Policy below backs that up by refusing
inline scripts and every origin but the node's own.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from node.http.errors import NotFound

#: The files under ``static/`` and how they are served; nothing else is.
STATIC_TYPES = {
    "explorer.html": "text/html; charset=utf-8",
    "explorer.css": "text/css; charset=utf-8",
    "explorer.js": "text/javascript; charset=utf-8",
    "pages.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

#: Own origin only, no inline script or style, no framing, no form posts, no plugins.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # The page changes with the node's release; revalidate rather than run a stale script.
    "Cache-Control": "no-cache",
}


def load_static() -> dict[str, bytes]:
    """The explorer's files, read once from the package."""
    folder = resources.files("node.http").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC_TYPES}


def web_explorer_routes() -> list[Route]:
    """``GET /explorer`` (the page) and ``GET /explorer/static/{name}`` (its files)."""
    files = load_static()

    def serve(name: str) -> Response:
        return Response(files[name], media_type=STATIC_TYPES[name], headers=SECURITY_HEADERS)

    async def page(request: Request) -> Response:
        return serve("explorer.html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files or name == "explorer.html":
            raise NotFound("no such explorer file")
        return serve(name)

    return [
        Route("/explorer", page, methods=["GET"]),
        Route("/explorer/static/{name}", static, methods=["GET"]),
    ]
