from integrations.admin import accounts, events  # noqa: F401  (registers the model admins)
