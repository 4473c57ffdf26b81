"""The audit trail: who did what to which records, when, and with what result."""
