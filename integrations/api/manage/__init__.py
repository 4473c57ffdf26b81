"""The management API (/api/v1/): token-authenticated, scoped to the caller's accounts exactly
as the admin is, documented by drf-spectacular. Each app keeps its own views in its `api/`;
the pieces every view shares live here."""
