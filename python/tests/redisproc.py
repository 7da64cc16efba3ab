"""A throwaway real redis-server on a free 127.0.0.1 port (no fakeredis), for the cost tests.

redis_server() listens in plaintext; redis_tls_server() serves TLS only (port 0, tls-port), as the
redis role configures it, with a self-signed certificate for 127.0.0.1 that clients use as their CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A P-256 key and a self-signed certificate for 127.0.0.1 and localhost: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass(frozen=True)
class TlsRedis:
    url: str  # rediss://127.0.0.1:<port>/0
    port: int
    ca_file: Path  # the server's self-signed certificate
    password: str


def _serve(workdir: Path, args: list[str], url: str,
           client_kwargs: dict[str, Any]) -> subprocess.Popen[bytes]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    proc = subprocess.Popen(
        [exe, *args, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(url, **client_kwargs)
    for _ in range(100):
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"redis-server at {url} did not answer")


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    proc = _serve(workdir, ["--port", str(port)], url, {})
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def redis_tls_server(workdir: Path, password: str = "tls-test-password-0123") -> Iterator[TlsRedis]:
    cert, key = self_signed(workdir, "redis")
    port = _free_port()
    url = f"rediss://127.0.0.1:{port}/0"
    proc = _serve(workdir, ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
                            "--tls-key-file", str(key), "--tls-auth-clients", "no",
                            "--requirepass", password],
                  url, {"ssl_ca_certs": str(cert), "password": password})
    try:
        yield TlsRedis(url=url, port=port, ca_file=cert, password=password)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
