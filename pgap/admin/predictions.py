"""P-GAP admin: predictions."""
