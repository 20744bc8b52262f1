"""The admin site: Django's, plus the staff-only Realtime page (connection stats of all pods)
and its disconnect action. Installed as the default site by realtime.admin.apps."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.views.decorators.http import require_POST

from realtime.config import realtime_config
from realtime.ops.disconnect import connection_close_send
from realtime.ops.stats_chart import chart_build
from realtime.ops.stats_read import StatsOverview, stats_overview
from realtime.protocols.closecodes import CloseCode

logger = logging.getLogger(__name__)

CONNECTION_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
REFRESH_SECONDS = 5


class RealtimeAdminSite(admin.AdminSite):
    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [
            path("realtime/", self.admin_view(self.realtime_view), name="realtime_stats"),
            path(
                "realtime/disconnect/",
                self.admin_view(require_POST(self.realtime_disconnect_view)),
                name="realtime_disconnect",
            ),
            *super().get_urls(),
        ]

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Django's apps, plus "Realtime" with its one page (staff only, like all of them)."""
        apps = super().get_app_list(request, app_label)
        if app_label not in (None, "realtime"):
            return apps
        url = reverse("admin:realtime_stats", current_app=self.name)
        page = {
            "name": "Connection stats",
            "object_name": "ConnectionStats",
            "admin_url": url,
            "add_url": None,
            "view_only": True,
            "perms": {"view": True},
        }
        apps = [app for app in apps if app["app_label"] != "realtime"]
        apps.append(
            {
                "name": "Realtime",
                "app_label": "realtime",
                "app_url": url,
                "has_module_perms": True,
                "models": [page],
            }
        )
        return sorted(apps, key=lambda app: app["name"].lower())

    def realtime_view(self, request: HttpRequest) -> HttpResponse:
        overview = async_to_sync(stats_overview)(realtime_config())
        context = {
            **self.each_context(request),
            "title": "Realtime: connection stats",
            "overview": overview,
            "rows": [_pod_row(pod, overview.now) for pod in overview.pods],
            "totals": {
                "connections": overview.total_connections,
                "messages_in_per_second": overview.total("messages_in_per_second"),
                "messages_out_per_second": overview.total("messages_out_per_second"),
            },
            "rooms": overview.busiest_rooms().items(),
            "chart": chart_build(overview.history, overview.now),
            "connections": _connection_rows(overview),
            "close_code": int(CloseCode.CLOSED_BY_STAFF),
            "refresh_seconds": REFRESH_SECONDS,
        }
        return TemplateResponse(request, "admin/realtime/stats.html", context)

    def realtime_disconnect_view(self, request: HttpRequest) -> HttpResponse:
        """Close one connection on whatever pod holds it; back to the page with a message."""
        back = HttpResponseRedirect(reverse("admin:realtime_stats", current_app=self.name))
        connection_id = request.POST.get("connection_id", "").strip()
        if not CONNECTION_ID.fullmatch(connection_id):
            messages.error(request, f"Not a connection id: {connection_id[:128]!r}")
            return back
        overview = async_to_sync(stats_overview)(realtime_config(), health=False)
        pod_id = request.POST.get("pod_id", "")
        pods = [pod for pod in overview.pods if pod["channel"]]
        owner = [pod for pod in pods if pod["pod_id"] == pod_id]
        targets = owner or pods  # an id typed in: every pod is asked, only its owner has it
        if not targets:
            messages.error(request, "No live pod to ask: is any pod publishing its stats?")
            return back
        async_to_sync(connection_close_send)(connection_id, [pod["channel"] for pod in targets])
        names = ", ".join(pod["pod"] for pod in targets)
        logger.info("Staff %s closed connection %s via %s", request.user, connection_id, names)
        messages.success(
            request,
            f"Asked {names} to close connection {connection_id} "
            f"(close code {int(CloseCode.CLOSED_BY_STAFF)}).",
        )
        return back


def _pod_row(pod: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        **pod,
        "uptime": _duration(now - pod["started_at"]),
        "last_seen": _duration(max(0.0, now - pod["taken_at"])) + " ago",
        "errors_total": sum(pod["errors"].values()),
    }


def _connection_rows(overview: StatsOverview) -> list[dict[str, Any]]:
    return [
        {
            **connection,
            "pod": pod["pod"],
            "pod_id": pod["pod_id"],
            "age": _duration(time.time() - connection["connected_at"]),
        }
        for pod in overview.pods
        for connection in pod["open_connections"]
    ]


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
