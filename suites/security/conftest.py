"""Fixtures of the security suite."""
