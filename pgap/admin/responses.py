"""P-GAP admin: responses."""
