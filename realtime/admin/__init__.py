"""The Django admin site with the staff-only Realtime page."""
