"""P-GAP admin: setup."""
