"""Django's debug page and error e-mails show settings; REDIS_URL's password must not be there."""

from __future__ import annotations

from django.test import override_settings
from django.views.debug import get_default_exception_reporter_filter

from realtime.layers import channel_layers_for
from realtime.redis_url import TlsOptions


def test_error_reports_hide_redis_url_and_layer_passwords() -> None:
    url = "redis://default:Sup3rSecret@h:25061/0"
    with override_settings(REDIS_URL=url, CHANNEL_LAYERS=channel_layers_for(url, TlsOptions())):
        shown = repr(get_default_exception_reporter_filter().get_safe_settings())
    assert "Sup3rSecret" not in shown
    assert "REDIS_URL" in shown
