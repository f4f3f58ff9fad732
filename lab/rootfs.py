"""Root filesystem chores: bind mounts for a chroot, and removal that never crosses a mount."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import proc
from harness.errors import InfraError

MOUNT_TIMEOUT_S = 60.0
CHROOT_BINDS = ("proc", "sys", "dev")
MOUNTINFO = Path("/proc/self/mountinfo")


def _unescape(field: str) -> str:
    """Undo the octal escapes (a space is written as backslash-040) of /proc/self/mountinfo."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(path: Path, mountinfo: Path = MOUNTINFO) -> list[Path]:
    """Return the mount points at or below `path`, deepest first."""
    root = path.resolve()
    found = []
    for line in mountinfo.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = Path(_unescape(fields[4]))
            if point == root or root in point.parents:
                found.append(point)
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_all(path: Path) -> None:
    """Unmount everything mounted at or below `path`; raise `InfraError` if something stays."""
    for point in mounts_under(path):
        done = proc.run(["umount", str(point)], timeout_s=MOUNT_TIMEOUT_S, check=False, package="mount")
        if done.returncode != 0:
            proc.run(["umount", "--lazy", str(point)], timeout_s=MOUNT_TIMEOUT_S, check=False, package="mount")
    left = mounts_under(path)
    if left:
        raise InfraError(f"{path}: still has mounts {[str(p) for p in left]}; unmount them by hand ('umount -l <dir>')")


def remove_tree(path: Path) -> None:
    """Delete `path` after making sure nothing is mounted below it (a bound /dev must never be emptied)."""
    if not path.exists() and not path.is_symlink():
        return
    unmount_all(path)
    shutil.rmtree(path)


@contextmanager
def chroot_mounts(root: Path) -> Iterator[None]:
    """Bind the host's /proc, /sys and /dev into `root` for the duration of the block."""
    try:
        for name in CHROOT_BINDS:
            target = root / name
            target.mkdir(exist_ok=True)
            proc.run(["mount", "--bind", f"/{name}", str(target)], timeout_s=MOUNT_TIMEOUT_S, package="mount")
        yield
    finally:
        unmount_all(root)


def write_file(root: Path, relative: str, text: str, mode: int = 0o644) -> Path:
    """Write `text` to `root`/`relative` (parents created) with `mode`; return the path."""
    target = root / relative.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    os.chmod(target, mode)
    return target
