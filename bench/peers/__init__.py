"""Peer implementations measured beside auditor: what a data journalist would write."""
