from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

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


def test_an_image_with_the_layout_of_a_security_image_gets_every_path_and_its_parents(tmp_path: Path) -> None:
    binary, token_provider, token_config = tmp_path / "b", tmp_path / "tp", tmp_path / "token-config.json"
    for path in (binary, token_provider, token_config):
        path.write_bytes(b"x")
    res = tmp_path / "res"
    res.mkdir()
    (res / "configuration.yaml").write_text("a: 1\n")
    tarball = tmp_path / "bootstrapper.tar"

    service_image.write_rootfs_tar(
        "security-bootstrapper",
        binary,
        res,
        tarball,
        binary_at="/edgex-init-staging/security-bootstrapper",
        res_at="/edgex-init-staging/res",
        executables={"/security-file-token-provider": token_provider},
        files={"/edgex-init-staging/bootstrap-postgres/res/token-config.json": token_config},
    )

    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["edgex-init-staging"].isdir()
    assert members["edgex-init-staging/security-bootstrapper"].mode == 0o755
    assert members["edgex-init-staging/res/configuration.yaml"].isfile()
    assert members["security-file-token-provider"].mode == 0o755
    assert members["edgex-init-staging/bootstrap-postgres"].isdir()
    assert members["edgex-init-staging/bootstrap-postgres/res/token-config.json"].mode == 0o644
    assert "security-bootstrapper" not in members, "the binary is only where the upstream image has it"


def test_a_missing_file_of_an_image_is_named(tmp_path: Path) -> None:
    res = tmp_path / "res"
    res.mkdir()
    (tmp_path / "b").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="nope: a file of the svc image is missing"):
        service_image.write_rootfs_tar("svc", tmp_path / "b", res, tmp_path / "o.tar", files={"/x": tmp_path / "nope"})


def test_image_changes_of_a_security_image_use_its_binary_workdir_and_no_upstream_args() -> None:
    changes = service_image.image_changes(
        "security-proxy-setup", binary_at="/edgex/secrets-config", args=[], workdir="/edgex"
    )
    assert 'ENTRYPOINT ["/edgex/secrets-config"]' in changes
    assert "WORKDIR /edgex" in changes
    assert "CMD []" in changes
