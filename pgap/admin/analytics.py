"""P-GAP admin: analytics."""
