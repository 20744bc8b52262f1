"""django.contrib.admin with this project's admin site, which adds the Realtime page.

A module of its own: Django picks an app's config from its `apps` module, and AdminConfig
(default = True) imported into realtime/apps.py would be picked for `realtime` too.
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class RealtimeAdminConfig(AdminConfig):
    default_site = "realtime.admin.site.RealtimeAdminSite"
