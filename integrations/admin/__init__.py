import integrations.admin.dixa_connections  # noqa: F401  (Connect Dixa)
from integrations.admin import accounts, alerts, audit, banners, events  # noqa: F401  (registers)
