"""Contributor tools: the new-tutorial scaffold and the offline link check."""
