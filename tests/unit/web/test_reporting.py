"""Django's debug page and error e-mails show settings; REDIS_URL's password must not be there."""

from __future__ import annotations

from django.test import override_settings
from django.views.debug import get_default_exception_reporter_filter

from realtime.pod.layers import channel_layers_for
from realtime.redis.url import redis_url_setting


def test_error_reports_hide_redis_url_and_layer_passwords() -> None:
    url = "redis://default:Sup3rSecret@h:25061/0"
    layers = channel_layers_for(redis_url_setting(url))
    with override_settings(REDIS_URL=url, CHANNEL_LAYERS=layers):
        shown = repr(get_default_exception_reporter_filter().get_safe_settings())
    assert "Sup3rSecret" not in shown
    assert "REDIS_URL" in shown


def test_a_redis_target_repr_shows_no_password() -> None:
    target = redis_url_setting("redis://default:Sup3rSecret@h:25061/0").target
    assert "Sup3rSecret" not in repr(target)
    assert "Sup3rSecret" not in repr(redis_url_setting("redis://:Sup3rSecret@h:x"))
