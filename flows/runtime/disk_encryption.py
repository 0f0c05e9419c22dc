"""Whether a folder lies on an encrypted block device (dm-crypt: LUKS or plain), from what
Linux publishes: the folder's mount in /proc/self/mountinfo, its device's place in
/sys/dev/block (a device-mapper target named CRYPT-..., possibly under LVM or RAID).

PostgreSQL does not encrypt its own files; the archive and the backups are encrypted by
Rempart, but the warehouse's data folder holds every landed row in clear. `rempart db status`
warns when that folder's device is not encrypted, and says so when it cannot tell (a network
file system, a container's overlay, another operating system).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AtRest:
    path: Path
    device: str  # e.g. /dev/vda1, dm-0, or the file system's type when it has no device
    encrypted: bool | None  # None: cannot tell

    def describe(self) -> str:
        if self.encrypted:
            return f"{self.path} is on {self.device}, an encrypted device (dm-crypt)"
        if self.encrypted is None:
            return (
                f"{self.path} is on {self.device}: cannot tell whether it is encrypted; keep "
                "it on an encrypted volume (see the README, Encryption at rest)"
            )
        return (
            f"WARNING: {self.path} is on {self.device}, which is not encrypted: the landed "
            "rows lie there in clear; move .rempart/ and data/ to an encrypted volume (LUKS, "
            "see the README, Encryption at rest)"
        )


def _mount_of(path: Path, mountinfo: str) -> tuple[str, str, str]:
    """(major:minor, file system type, source) of the mount holding `path`."""
    best: tuple[int, tuple[str, str, str]] | None = None
    resolved = str(path.resolve())
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) > best[0]):
            fs_type, source = line.split(" - ", 1)[1].split()[:2]
            best = (len(mount_point), (fields[2], fs_type, source))
    if best is None:
        raise OSError(f"no mount holds {resolved}")
    return best[1]


def _crypt_below(device: Path, seen: set[Path]) -> bool:
    """A dm-crypt device at or below this sysfs block device (through LVM, RAID,
    partitions)?"""
    device = device.resolve()
    if device in seen:
        return False
    seen.add(device)
    uuid = device / "dm" / "uuid"
    if uuid.is_file() and uuid.read_text().startswith("CRYPT-"):
        return True
    if (device / "partition").is_file() and _crypt_below(device.parent, seen):
        return True
    slaves = device / "slaves"
    return slaves.is_dir() and any(_crypt_below(slave, seen) for slave in slaves.iterdir())


def at_rest(path: Path, sys_root: Path = Path("/sys"), proc_root: Path = Path("/proc")) -> AtRest:
    # A folder not made yet will be on the device of its nearest existing parent.
    existing = next((p for p in (path, *path.parents) if p.exists()), path)
    try:
        mountinfo = (proc_root / "self" / "mountinfo").read_text()
        number, fs_type, source = _mount_of(existing, mountinfo)
    except OSError:
        return AtRest(path, "an unknown device", None)
    sysfs = sys_root / "dev" / "block" / number
    if number.startswith("0:") or not sysfs.exists():  # no block device: overlay, NFS, tmpfs
        return AtRest(path, f"a {fs_type} file system ({source})", None)
    name = (sysfs / "uevent").read_text().partition("DEVNAME=")[2].split("\n")[0] or number
    return AtRest(path, f"/dev/{name}", _crypt_below(sysfs, set()))
