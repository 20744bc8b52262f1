"""ASGI entry point: `daphne murror.asgi:application`."""

import os
from collections.abc import Awaitable

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "murror.settings")
django_asgi_app = get_asgi_application()

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope  # noqa: E402
from channels.routing import URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from realtime.ops.health import healthz, readyz  # noqa: E402
from realtime.ops.metrics import metrics  # noqa: E402
from realtime.pod.drain import daphne_drain_install  # noqa: E402
from realtime.pod.startup import pod_start  # noqa: E402
from realtime.protocols.socketio.http import sio_polling  # noqa: E402
from realtime.protocols.socketio.websocket import sio_websocket  # noqa: E402
from realtime.protocols.ws.consumer import ws_consumer  # noqa: E402

pod_start()
daphne_drain_install()

SOCKETIO_PATHS = ("/socket.io/", "/socket.io")

http_application = URLRouter(
    [
        path("healthz", healthz),
        path("readyz", readyz),
        path("metrics", metrics),
        re_path(r"", django_asgi_app),
    ]
)


def application(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> Awaitable:
    """Socket.IO at /socket.io/ (polling and WebSocket), other WebSockets to the /ws/ consumer
    (it checks the path and the origin), other HTTP to the routes above.

    A plain function handing back the handler's coroutine rather than a coroutine awaiting it,
    as ProtocolTypeRouter is: that frame would live as long as each WebSocket (about 0.5 KiB
    apiece; docs/performance.md).
    """
    if scope["type"] == "websocket":
        if scope["path"] in SOCKETIO_PATHS:
            return sio_websocket(scope, receive, send)
        return ws_consumer(scope, receive, send)
    if scope["type"] == "http":
        if scope["path"] in SOCKETIO_PATHS:
            return sio_polling(scope, receive, send)
        return http_application(scope, receive, send)
    raise ValueError(f"no application for ASGI scope type {scope['type']!r}")


# asgiref's own hint that this is an ASGI 3 application although it is not `async def`.
application._asgi_single_callable = True  # type: ignore[attr-defined]
