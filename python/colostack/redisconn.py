"""One way to open Redis for every command: connect, ping, and name the URL when it fails."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from colostack.errors import UserError


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, password: str | None = None, timeout_s: float = 10.0) -> Any:
    """A client that has answered PING; any failure is a UserError naming the URL."""
    import redis  # noqa: PLC0415 (optional dependency)

    shown = redacted(url)
    try:
        client = redis.Redis.from_url(url, password=password, socket_timeout=timeout_s,
                                      socket_connect_timeout=timeout_s)
        client.ping()
    except ValueError as exc:
        raise UserError(f"Redis URL {shown}: {exc}") from None
    except redis.exceptions.AuthenticationError as exc:
        raise UserError(f"Redis at {shown} refused the login ({exc})") from None
    except redis.exceptions.RedisError as exc:
        raise UserError(f"Redis at {shown} is unreachable ({exc})") from None
    return client
