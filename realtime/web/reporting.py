"""Django's debug pages and error reports hide REDIS_URL too (its password is in it)."""

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|REDIS_URL|DATABASE_URL", flags=re.I
    )
