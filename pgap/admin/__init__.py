from pgap.admin import analytics, card, predictions, responses, setup  # noqa: F401  (registers the admins)
