"""colostack_runtime: wheels install only with the sha256 the controller took (--require-hashes)."""

from __future__ import annotations

import pytest

HOME = "/opt/colostack"
REQS = f"{HOME}/wheelhouse-requirements.txt"
PIP = f"{HOME}/venv/bin/pip"
# The role's flags (roles/colostack_runtime/vars/main.yml); a dry run that still fetches and checks
# every wheel: --ignore-installed, so nothing already in the venv is skipped.
INSTALL = f"{PIP} install --dry-run --ignore-installed --no-index --require-hashes"


def test_every_shipped_wheel_is_listed_with_its_sha256(host):
    lines = host.file(REQS).content_string.splitlines()
    wheels = host.check_output(f"cd {HOME}/wheelhouse && sha256sum *.whl").splitlines()
    assert len(lines) == len(wheels) and any(line.startswith("colostack==") for line in lines)
    hashes = {line.split("--hash=sha256:")[1] for line in lines}
    assert hashes == {line.split()[0] for line in wheels}


def test_the_shipped_wheelhouse_passes_the_hash_check(host):
    run = host.run(f"{INSTALL} --find-links {HOME}/wheelhouse -r {REQS}")
    assert run.rc == 0, run.stderr


@pytest.mark.parametrize("tamper", ["wheel", "hash"])
def test_a_tampered_wheel_or_hash_is_refused(host, tamper):
    # A copy of the wheelhouse with one byte added to the colostack wheel, or a copy of the
    # requirements with one hash changed: pip must refuse both before installing anything.
    setup = f"rm -rf /tmp/tampered && cp -r {HOME}/wheelhouse /tmp/tampered && cp {REQS} /tmp/tampered.txt && "
    if tamper == "wheel":
        setup += "printf x >> $(ls /tmp/tampered/colostack-*.whl)"
    else:
        setup += f"sed -i '/^colostack==/s/sha256:[0-9a-f]*/sha256:{'0' * 64}/' /tmp/tampered.txt"
    host.check_output(setup)
    run = host.run(f"{INSTALL} --find-links /tmp/tampered -r /tmp/tampered.txt")
    host.run("rm -rf /tmp/tampered /tmp/tampered.txt")
    assert run.rc != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in run.stderr
    assert "colostack==" in run.stderr
