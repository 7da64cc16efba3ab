"""colostack: validate, roll out and account for self-hosted GPU inference hosts."""

__version__ = "0.1.0"
