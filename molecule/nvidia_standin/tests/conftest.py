"""Talk to the test host through podman directly: testinfra's ansible backend costs seconds per command."""

from __future__ import annotations

import pytest
import testinfra


@pytest.fixture(scope="module")
def host() -> testinfra.host.Host:
    return testinfra.get_host("podman://nvidia-standin-d13")
