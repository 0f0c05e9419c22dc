"""Which device a folder is on and whether it is dm-crypt, read from a /proc and /sys laid
out as Linux lays them out: a plain partition, LVM on LUKS, an overlay."""

from __future__ import annotations

from pathlib import Path

from flows.runtime.disk_encryption import at_rest

# Mount points under {root}, a folder of the test's, so the folders asked about exist.
MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 254:1 / {root}/srv/rempart rw,relatime shared:2 - ext4 /dev/mapper/vg-rempart rw
24 22 0:45 / {root}/srv/overlay rw,relatime - overlay overlay rw,lowerdir=/a
25 23 254:1 /nested {root}/srv/rempart/data\\040files rw,relatime - ext4 /dev/mapper/vg rw
"""


def _block(sys_root: Path, number: str, name: str, **files: str) -> Path:
    device = sys_root / "devices" / name
    device.mkdir(parents=True)
    (device / "uevent").write_text(f"MAJOR={number.split(':')[0]}\nDEVNAME={name}\n")
    for relative, text in files.items():
        (device / relative.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (device / relative.replace("__", "/")).write_text(text)
    link = sys_root / "dev" / "block" / number
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(device)
    return device


def _machine(tmp_path: Path) -> tuple[Path, Path]:
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    (proc / "self").mkdir(parents=True)
    root = tmp_path / "root"
    (proc / "self" / "mountinfo").write_text(MOUNTINFO.format(root=root))
    for folder in ("srv/rempart/data files", "srv/overlay"):
        (root / folder).mkdir(parents=True)
    disk = _block(sys_root, "8:0", "sda")
    partition = disk / "sda1"
    partition.mkdir()
    (partition / "partition").write_text("1\n")
    (partition / "uevent").write_text("DEVNAME=sda1\n")
    (sys_root / "dev" / "block" / "8:1").symlink_to(partition)
    crypt = _block(sys_root, "254:0", "dm-0", dm__uuid="CRYPT-LUKS2-0123-luks\n")
    volume = _block(sys_root, "254:1", "dm-1", dm__uuid="LVM-abc\n")
    (volume / "slaves").mkdir()
    (volume / "slaves" / "dm-0").symlink_to(crypt)
    return proc, sys_root


def test_a_plain_partition_is_not_encrypted(tmp_path: Path) -> None:
    proc, sys_root = _machine(tmp_path)
    found = at_rest(tmp_path / "elsewhere" / ".rempart", sys_root, proc)
    assert found.device == "/dev/sda1" and found.encrypted is False
    assert found.describe().startswith("WARNING:") and "LUKS" in found.describe()


def test_lvm_on_luks_is_encrypted_down_to_its_nested_mounts(tmp_path: Path) -> None:
    proc, sys_root = _machine(tmp_path)
    for folder in ("srv/rempart/pgdata", "srv/rempart/data files/inbox"):
        found = at_rest(tmp_path / "root" / folder, sys_root, proc)
        assert found.device == "/dev/dm-1" and found.encrypted is True, folder


def test_an_overlay_cannot_tell(tmp_path: Path) -> None:
    proc, sys_root = _machine(tmp_path)
    found = at_rest(tmp_path / "root" / "srv" / "overlay" / "pgdata", sys_root, proc)
    assert found.encrypted is None and "overlay" in found.device
    assert "cannot tell" in found.describe()
