"""HTTP routes served by Django; /healthz, /readyz and /ws/ are routed in murror.asgi."""

from django.contrib import admin
from django.urls import path

from realtime.views import realtime_token

urlpatterns = [
    path("admin/", admin.site.urls),
    path("realtime/token", realtime_token, name="realtime-token"),
]
