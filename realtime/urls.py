"""Django routes of the realtime app: the JavaScript client and the demo page."""

from django.urls import path

from realtime.views import client_script, demo_page

urlpatterns = [
    path("client/murror.js", client_script, name="client-script"),
    path("", demo_page, name="demo"),
]
