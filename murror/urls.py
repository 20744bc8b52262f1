"""HTTP routes served by Django; /healthz, /readyz and /ws/ are routed in murror.asgi."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("realtime.web.urls")),
]
