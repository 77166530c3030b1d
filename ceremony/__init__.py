"""tuf-ceremony: the offline half of a TUF repository."""

__version__ = "0.1.0"
