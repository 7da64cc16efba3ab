"""nvidia_stack: the CUDA repository key is trusted only with the pinned fingerprint.

The STAND-IN repository (tests/fixtures/nvidia_repo_standin) is signed with a fixed test key whose
real fingerprint the scenario pins, as production pins NVIDIA's. Runs after test_nvidia_stack.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent
KEYRING = "/etc/apt/keyrings/nvidia-cuda.asc"
STANDIN_FINGERPRINT = "6F72B76F7EDD06E0A02DF09F0AF6C3460CD0A3D1"


def test_trusted_keyring_holds_exactly_the_pinned_key(host):
    out = host.check_output(f"gpg --show-keys --with-colons {KEYRING}")
    primaries = [line.split(":")[9] for line, prev in zip(out.splitlines()[1:], out.splitlines(), strict=False)
                 if line.startswith("fpr:") and prev.startswith("pub:")]
    assert primaries == [STANDIN_FINGERPRINT]
    assert f"Signed-By: {KEYRING}" in host.file("/etc/apt/sources.list.d/nvidia-cuda.sources").content_string


@pytest.mark.parametrize(("case", "message"), [
    ("mismatch", (f"has fingerprint {STANDIN_FINGERPRINT}, but nvidia_driver_cuda_repo_key_fingerprint pins "
                  "B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8: refusing to trust it")),
    ("malformed", "nvidia_driver_cuda_repo_key_fingerprint must be a key fingerprint of 40 hex digits"),
])
def test_a_key_other_than_the_pin_is_refused_naming_the_variable(host, case, message):
    before = host.check_output(f"sha256sum {KEYRING} /etc/apt/sources.list.d/nvidia-cuda.sources")
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                          str(HERE / "key_pin.yml"), "-e", f"pin_case={case}"],
                         capture_output=True, text=True, check=False, timeout=600)
    out = " ".join(run.stdout.split())
    assert run.returncode == 2, out[-2000:]
    assert message in out, out[-2000:]
    assert host.check_output(f"sha256sum {KEYRING} /etc/apt/sources.list.d/nvidia-cuda.sources") == before
