import integrations.admin.dixa_connections  # noqa: F401  (Connect Dixa)
from integrations.admin import (  # noqa: F401  (registers)
    accounts,
    alerts,
    audit,
    banners,
    erasure,
    events,
    getting_started,
    tokens,
)
