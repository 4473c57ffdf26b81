import integrations.admin.dixa_connections  # noqa: F401  (Connect Dixa)
from integrations.admin import accounts, banners, events  # noqa: F401  (registers the admins)
