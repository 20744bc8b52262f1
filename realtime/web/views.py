"""HTTP views: the JavaScript client at a stable URL, the demo page at /, tokens for /ws/."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import etag, require_GET, require_safe

from realtime.access.tokens import TOKEN_SUBPROTOCOL_PREFIX, token_for
from realtime.config import realtime_config

CLIENT_PATH = Path(__file__).resolve().parent.parent / "static" / "realtime" / "murror.js"


def _client_etag(request: HttpRequest) -> str:
    return hashlib.sha256(CLIENT_PATH.read_bytes()).hexdigest()[:32]


@require_safe
@etag(_client_etag)
def client_script(request: HttpRequest) -> HttpResponse:
    """/client/murror.js: served by Django itself, so it works under plain daphne, DEBUG or not."""
    response = HttpResponse(CLIENT_PATH.read_bytes(), content_type="text/javascript; charset=utf-8")
    # Revalidated on every load (the ETag makes that a 304), so a deploy is picked up at once.
    response["Cache-Control"] = "no-cache"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def demo_page(request: HttpRequest) -> HttpResponse:
    """/: join a room, send messages, see members and the pod; only when REALTIME_DEMO is on."""
    if not realtime_config().demo:
        raise Http404("the demo page is off (REALTIME_DEMO)")
    return render(request, "realtime/demo.html")


@never_cache
@require_GET
def realtime_token(request: HttpRequest) -> JsonResponse:
    """A signed, expiring token for /ws/, for a user this request has authenticated."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    token = token_for(request.user)
    return JsonResponse(
        {
            "token": token,
            "expires_in": realtime_config().token_max_age,
            "subprotocol": TOKEN_SUBPROTOCOL_PREFIX + token,
        }
    )
