"""Writes. Each module owns one thing; views, tasks, admin actions and commands call these."""
