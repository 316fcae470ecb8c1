"""auditor: audit published election results."""

__version__ = "0.1.0"
