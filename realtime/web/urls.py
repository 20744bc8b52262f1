"""Django routes of the realtime app: the JavaScript client, the demo page, /ws/ tokens."""

from django.urls import path

from realtime.web.views import client_script, demo_page, realtime_token

urlpatterns = [
    path("client/murror.js", client_script, name="client-script"),
    path("realtime/token", realtime_token, name="realtime-token"),
    path("", demo_page, name="demo"),
]
