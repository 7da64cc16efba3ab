"""The apt_signing_key module's fingerprint reader, against gpg's own reading of real keyrings."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

_spec = importlib.util.spec_from_file_location("apt_signing_key", REPO / "plugins/modules/apt_signing_key.py")
assert _spec and _spec.loader
apt_signing_key = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(apt_signing_key)

# STAND-IN: the public half of the test repository's fixed key (tests/fixtures/nvidia_repo_standin).
STANDIN_KEY = (REPO / "tests/fixtures/nvidia_repo_standin/standin-archive-key.asc").read_bytes()
STANDIN_FINGERPRINT = "6F72B76F7EDD06E0A02DF09F0AF6C3460CD0A3D1"
KEYRINGS = sorted(Path("/usr/share/keyrings").glob("debian-archive-*.gpg"))


def test_armored_key_gives_its_fingerprint() -> None:
    assert apt_signing_key.fingerprints(STANDIN_KEY) == [STANDIN_FINGERPRINT]


def test_binary_key_gives_the_same_fingerprint() -> None:
    binary = apt_signing_key.dearmor(STANDIN_KEY)
    assert binary is not None and apt_signing_key.dearmor(binary) is None
    assert apt_signing_key.fingerprints(binary) == [STANDIN_FINGERPRINT]


def test_an_appended_key_shows_as_a_second_fingerprint() -> None:
    # A key file with one extra key must not pass a pin of the first: the module compares the list.
    binary = apt_signing_key.dearmor(STANDIN_KEY)
    assert binary is not None
    assert apt_signing_key.fingerprints(binary + binary) == [STANDIN_FINGERPRINT] * 2


@pytest.mark.parametrize("data", [b"<html>not found</html>", b"\x99\x01", STANDIN_KEY[:200]])
def test_what_is_not_a_key_file_is_refused(data: bytes) -> None:
    with pytest.raises((ValueError, IndexError)):
        assert apt_signing_key.fingerprints(data)


@pytest.mark.skipif(not shutil.which("gpg") or not KEYRINGS, reason="needs gpg and Debian's archive keyrings")
@pytest.mark.parametrize("keyring", KEYRINGS, ids=[k.name for k in KEYRINGS])
def test_fingerprints_agree_with_gpg(keyring: Path) -> None:
    out = subprocess.run(["gpg", "--show-keys", "--with-colons", str(keyring)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    expected, in_primary = [], False
    for line in out:  # the first fpr after each pub (rvk lines may come between)
        if line.startswith(("pub:", "sub:")):
            in_primary = line.startswith("pub:")
        elif line.startswith("fpr:") and in_primary:
            expected.append(line.split(":")[9])
            in_primary = False
    assert apt_signing_key.fingerprints(keyring.read_bytes()) == expected
