"""colostack: validate, roll out and account for self-hosted GPU inference hosts."""

from importlib.metadata import version

__version__ = version("colostack")  # one place: python/pyproject.toml
