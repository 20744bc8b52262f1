"""ASGI entry point: `daphne murror.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "murror.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from realtime.access import BrowserOriginValidator  # noqa: E402
from realtime.consumer import room_consumer  # noqa: E402
from realtime.drain import daphne_drain_install  # noqa: E402
from realtime.health import healthz, readyz  # noqa: E402
from realtime.metrics import metrics  # noqa: E402
from realtime.startup import pod_start  # noqa: E402

pod_start()
daphne_drain_install()

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                path("healthz", healthz),
                path("readyz", readyz),
                path("metrics", metrics),
                re_path(r"", django_asgi_app),
            ]
        ),
        "websocket": BrowserOriginValidator(URLRouter([path("ws/", room_consumer)])),
    }
)
