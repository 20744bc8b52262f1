"""HTTP views of the realtime app."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from realtime.access import TOKEN_SUBPROTOCOL_PREFIX, token_issue


@never_cache
@require_GET
def realtime_token(request: HttpRequest) -> JsonResponse:
    """A signed, expiring token for /ws/, for a user this request has authenticated."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    token = token_issue(request.user)
    return JsonResponse(
        {
            "token": token,
            "expires_in": settings.REALTIME_TOKEN_MAX_AGE,
            "subprotocol": TOKEN_SUBPROTOCOL_PREFIX + token,
        }
    )
