from __future__ import annotations

from pathlib import Path

from lab import rootfs

MOUNTINFO = """\
22 1 252:0 / / rw,relatime - ext4 /dev/vda rw
100 22 0:5 / {root}/proc rw - proc proc rw
101 22 0:6 / {root}/dev rw - devtmpfs udev rw
102 101 0:7 / {root}/dev/pts rw - devpts devpts rw
103 22 0:8 / {root}2/proc rw - proc proc rw
104 22 0:9 / {root}/with\\040space rw - tmpfs tmpfs rw
"""


def test_mounts_under_lists_deepest_first_and_ignores_siblings(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO.format(root=root))
    found = rootfs.mounts_under(root, info)
    assert found[0] == root / "dev/pts"
    assert set(found) == {root / "proc", root / "dev", root / "dev/pts", root / "with space"}


def test_remove_tree_deletes_an_unmounted_tree(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "x").write_text("x")
    rootfs.remove_tree(root)
    assert not root.exists()
    rootfs.remove_tree(root)  # absent: nothing to do


def test_write_file_sets_the_mode(tmp_path: Path) -> None:
    path = rootfs.write_file(tmp_path, "/usr/sbin/policy-rc.d", "exit 101\n", 0o755)
    assert path == tmp_path / "usr/sbin/policy-rc.d"
    assert path.stat().st_mode & 0o777 == 0o755
