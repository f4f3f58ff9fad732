from __future__ import annotations

import json
import tarfile
from pathlib import Path

from lab import service_image


def test_rootfs_tar_has_the_upstream_layout(tmp_path: Path) -> None:
    binary = tmp_path / "core-data-bin"
    binary.write_bytes(b"\x7fELF")
    res = tmp_path / "res"
    (res / "profiles").mkdir(parents=True)
    (res / "configuration.yaml").write_text("Service: {}\n")
    (res / "profiles" / "p.yaml").write_text("name: p\n")
    (res / "configuration.yaml").chmod(0o444)
    tarball = tmp_path / "out" / "core-data.tar"

    service_image.write_rootfs_tar("core-data", binary, res, tarball)

    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["core-data"].mode == 0o755
    assert members["res/configuration.yaml"].mode == 0o644
    assert members["res/profiles/p.yaml"].isfile()
    assert members["tmp"].mode == 0o1777
    assert {"etc/passwd", "etc/group", "etc/nsswitch.conf"} <= set(members)
    assert members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == service_image.MTIME for m in members.values())
    assert not list(tarball.parent.glob("*.partial"))


def test_rootfs_tar_is_reproducible(tmp_path: Path) -> None:
    binary = tmp_path / "b"
    binary.write_bytes(b"x")
    res = tmp_path / "res"
    res.mkdir()
    (res / "configuration.yaml").write_text("a: 1\n")
    service_image.write_rootfs_tar("svc", binary, res, tmp_path / "one.tar")
    service_image.write_rootfs_tar("svc", binary, res, tmp_path / "two.tar")
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()


def test_image_changes_match_the_upstream_run_contract() -> None:
    changes = service_image.image_changes("device-virtual")
    assert 'ENTRYPOINT ["/device-virtual"]' in changes
    assert "WORKDIR /" in changes
    cmd = next(c for c in changes if c.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["-cp=keeper.http://edgex-core-keeper:59890", "--registry"]
    assert any(c.startswith("ENV PATH=/usr/local/sbin:") for c in changes)
