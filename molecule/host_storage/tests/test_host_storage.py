"""host_storage on loop-device drives: layout, boot-time scheduler, trim, re-mount, refusals.

The drives are loop devices over sparse files (prepare.yml); everything else is real: blkid,
mkfs, mount, fstab, sysfs and systemd on a Debian 13 host reached over SSH.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[1]
VOLUMES = yaml.safe_load((SCENARIO / "vars" / "volumes.yml").read_text())["host_storage_volumes"]
DISK = "/dev/colostack-test/disk-{}"
LAYOUT = {"pgdata": ("/var/lib/postgresql", "xfs", "a", "none"),
          "models": ("/srv/models", "ext4", "b", "mq-deadline")}


def converge(tmp_path: Path, *flags: str, extra: list[dict[str, Any]] | None = None,
             volumes: list[dict[str, Any]] = VOLUMES) -> subprocess.CompletedProcess[str]:
    """The scenario's converge playbook, as molecule runs it; extra volumes after the scenario's."""
    extra_vars = tmp_path / "volumes.json"
    extra_vars.write_text(json.dumps({"host_storage_volumes": volumes + (extra or [])}))
    return subprocess.run(["ansible-playbook", str(SCENARIO / "converge.yml"), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                           "-e", f"@{extra_vars}", *flags],
                          capture_output=True, text=True, timeout=600, check=False, cwd=REPO)


def recap(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    found = re.search(r"hs-1\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", run.stdout)
    assert found, run.stdout[-3000:] + run.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, found.groups()), strict=True))


def task_output(run: subprocess.CompletedProcess[str], task: str) -> str:
    """The lines a task printed, up to the next task."""
    return run.stdout.split(task, 1)[1].split("TASK [", 1)[0]


def probe(host: Any, letter: str) -> str:
    """What blkid finds on a test drive ('' when blank)."""
    return host.run(f"blkid -p -o export {DISK.format(letter)}").stdout


def kernel_name(host: Any, letter: str) -> str:
    return host.check_output(f"readlink -f {DISK.format(letter)}").rsplit("/", 1)[1]


@pytest.mark.parametrize("name", LAYOUT)
def test_volume_is_mounted_by_uuid_with_its_label_type_and_options(host, name):
    mount, fstype, letter, _ = LAYOUT[name]
    volume = next(v for v in VOLUMES if v["name"] == name)
    found = dict(line.split("=", 1) for line in probe(host, letter).splitlines())
    assert found["TYPE"] == fstype and found["LABEL"] == name
    fs = json.loads(host.check_output(f"findmnt -J -o SOURCE,FSTYPE,OPTIONS --mountpoint {mount}"))["filesystems"][0]
    assert fs["source"] == f"/dev/{kernel_name(host, letter)}" and fs["fstype"] == fstype
    options = fs["options"].split(",")
    for option in volume.get("mount_options", ["noatime"]):
        if option != "defaults":
            assert option in options, (option, options)
    fstab = host.file("/etc/fstab").content_string.splitlines()
    wanted = f"UUID={found['UUID']} {mount} {fstype} {','.join(volume.get('mount_options', ['defaults', 'noatime']))} 0 0"
    assert wanted in fstab, fstab


def test_a_volume_root_gets_the_owner_given_and_keeps_one_a_package_set(host, tmp_path):
    root = host.file("/srv/models")
    assert (root.user, root.group, root.mode) == ("nobody", "nogroup", 0o750)
    assert host.file("/var/lib/postgresql").user == "root"  # as mkfs made it: no owner given
    host.check_output("chown nobody:nogroup /var/lib/postgresql")  # as postgresql-common does for postgres
    try:
        assert recap(converge(tmp_path))["changed"] == 0
        assert host.file("/var/lib/postgresql").user == "nobody"
    finally:
        host.check_output("chown root:root /var/lib/postgresql")


def test_io_scheduler_is_set_and_set_again_by_its_boot_unit(host):
    def current(letter: str) -> str:
        line = host.file(f"/sys/class/block/{kernel_name(host, letter)}/queue/scheduler").content_string
        return re.search(r"\[(\S+)\]", line)[1]

    assert [current(LAYOUT[n][2]) for n in LAYOUT] == [LAYOUT[n][3] for n in LAYOUT]
    for name in LAYOUT:
        host.check_output(f"echo kyber > /sys/class/block/{kernel_name(host, LAYOUT[name][2])}/queue/scheduler")
    assert {current(LAYOUT[n][2]) for n in LAYOUT} == {"kyber"}
    assert host.service("colostack-io-scheduler").is_enabled  # so it runs at boot
    host.check_output("systemctl restart colostack-io-scheduler")
    assert [current(LAYOUT[n][2]) for n in LAYOUT] == [LAYOUT[n][3] for n in LAYOUT]


def test_fstrim_timer_is_enabled_and_the_volumes_take_discards(host):
    assert host.service("fstrim.timer").is_enabled
    for mount, *_ in LAYOUT.values():
        trimmed = host.run(f"fstrim -v {mount}")
        assert trimmed.rc == 0 and "trimmed" in trimmed.stdout, trimmed.stderr


def test_unmounted_volumes_are_mounted_again_with_their_data_never_formatted_again(host, tmp_path):
    uuids = {n: probe(host, LAYOUT[n][2]) for n in LAYOUT}
    for mount, *_ in LAYOUT.values():
        host.check_output(f"head -c 65536 /dev/urandom > {mount}/keep && sync && sha256sum {mount}/keep > /root/keep{mount.replace('/', '_')}")
    for mount, *_ in LAYOUT.values():
        host.check_output(f"umount {mount}")  # as after a boot that failed to mount them
    run = converge(tmp_path)
    assert recap(run)["failed"] == 0, run.stdout[-3000:]
    assert "changed" not in task_output(run, "Make the filesystems")
    assert all(f"changed: [hs-1] => (item={name})" in task_output(run, "Mount the volumes by UUID") for name in LAYOUT)
    for name, (mount, *_) in LAYOUT.items():
        assert host.run(f"sha256sum -c /root/keep{mount.replace('/', '_')}").rc == 0, name
        assert probe(host, LAYOUT[name][2]) == uuids[name]  # same filesystem, same UUID
    assert recap(converge(tmp_path))["changed"] == 0


def test_drives_holding_what_the_role_did_not_make_are_refused_before_any_change(host, tmp_path):
    host.check_output("mkdir -p /srv/old && echo precious > /srv/old/data")
    host.check_output("mkdir -p /srv/tmp && mount -t tmpfs tmpfs /srv/tmp")
    try:
        before = {x: probe(host, x) for x in "acdef"}
        fstab = host.file("/etc/fstab").content_string
        changed_type = [{**v, "fstype": "ext4"} if v["name"] == "pgdata" else v for v in VOLUMES]
        run = converge(tmp_path, volumes=changed_type, extra=[
            {"name": "scratch", "devices": [DISK.format("c")], "mount": "/srv/scratch"},
            {"name": "parted", "devices": [DISK.format("d")], "mount": "/srv/parted"},
            {"name": "fresh", "devices": [DISK.format("e")], "mount": "/srv/old"},
            {"name": "overmount", "devices": [DISK.format("f")], "mount": "/srv/tmp"},
            {"name": "ghost", "devices": ["/dev/colostack-test/disk-z"], "mount": "/srv/ghost"},
        ])
        assert run.returncode != 0
        out = run.stdout
        assert re.search(r"host_storage_volumes\[scratch\]: /dev/colostack-test/disk-c holds [^;]*TYPE=ext4", out), out[-3000:]
        assert "LABEL=foreign" in out
        assert re.search(r"host_storage_volumes\[parted\]: /dev/colostack-test/disk-d holds [^;]*PTTYPE=gpt", out)
        assert "host_storage_volumes[fresh]: /srv/old already holds files" in out
        assert "host_storage_volumes[overmount]: /srv/tmp is already a mount point of another filesystem" in out
        assert "host_storage_volumes[ghost]: /dev/colostack-test/disk-z is not a block device" in out
        assert ("host_storage_volumes[pgdata]: /dev/colostack-test/disk-a holds this volume's xfs filesystem, "
                "but fstype is ext4") in out
        assert {x: probe(host, x) for x in "acdef"} == before and before["e"] == before["f"] == ""
        assert host.file("/etc/fstab").content_string == fstab
        assert host.file("/srv/old/data").content_string == "precious\n"
        assert not host.file("/srv/scratch").exists and not host.file("/srv/parted").exists
    finally:
        host.run("umount /srv/tmp")


def test_check_mode_reports_a_new_volume_and_leaves_its_drive_blank(host, tmp_path):
    run = converge(tmp_path, "--check", extra=[{"name": "extra", "devices": [DISK.format("e")], "mount": "/srv/extra"}])
    assert recap(run)["failed"] == 0 and recap(run)["changed"] >= 1, run.stdout[-3000:]
    assert probe(host, "e") == ""
    assert not host.file("/srv/extra").exists
    assert "/srv/extra" not in host.file("/etc/fstab").content_string
