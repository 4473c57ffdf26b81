"""Reads of the P-GAP app."""
