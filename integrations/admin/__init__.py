from integrations.admin import accounts, banners, events  # noqa: F401  (registers the admins)
