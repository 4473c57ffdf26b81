from pgap.admin import analytics, predictions, responses, setup  # noqa: F401  (registers the admins)
