"""One way to open Redis for every command: connect, ping, and name the URL when it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from colostack.errors import UserError, one_line


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


def connect(url: str, password: str | None = None, timeout_s: float = 10.0,
            ca_file: str | None = None) -> Any:
    """A client that has answered PING; any failure is a UserError naming the URL.

    A rediss:// URL is TLS with the server certificate checked: against ca_file when given,
    else against the system's CAs. A CA file with a plaintext redis:// URL is refused.
    """
    import redis  # noqa: PLC0415 (optional dependency)

    shown = redacted(url)
    tls: dict[str, Any] = {}
    if ca_file is not None:
        if not url.startswith("rediss://"):
            raise UserError(f"Redis URL {shown}: a CA file ({ca_file}) needs a rediss:// (TLS) URL")
        if not Path(ca_file).is_file():
            raise UserError(f"Redis CA file {ca_file}: no such file")
        tls = {"ssl_ca_certs": ca_file, "ssl_cert_reqs": "required"}
    try:
        client = redis.Redis.from_url(url, password=password, socket_timeout=timeout_s,
                                      socket_connect_timeout=timeout_s, **tls)
        client.ping()
    except ValueError as exc:
        raise UserError(f"Redis URL {shown}: {exc}") from None
    except redis.exceptions.AuthenticationError as exc:
        raise UserError(f"Redis at {shown} refused the login ({exc})") from None
    except redis.exceptions.RedisError as exc:
        raise UserError(f"Redis at {shown} is unreachable ({one_line(str(exc))})") from None
    return client
