from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class ManagementThrottle(UserRateThrottle):
    """Requests per user (per address before authentication) in Django's default cache:
    Redis when REDIS_URL is set, so every web process counts together. The rate is read
    per request, so that a settings change (and a test) takes effect."""

    scope = "management"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
