"""The infrastructure image: Debian's PostgreSQL, mosquitto and NGINX, from Debian's archive only."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness import proc
from harness.errors import PreflightError
from lab import rootfs
from lab.mirror import debian_mirror
from lab.paths import FILES_DIR
from lab.pins import Infra

DEBOOTSTRAP_TIMEOUT_S = 1200.0
APT_TIMEOUT_S = 900.0
TAR_TIMEOUT_S = 600.0
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POSTGRES_SCRIPT = "edgex-smoke-postgres"

IMAGE_CHANGES = (
    f"ENV PATH={STANDARD_PATH}",
    "ENV PGDATA=/var/lib/edgex-smoke/pgdata",
    "WORKDIR /",
    "STOPSIGNAL SIGINT",
    f'CMD ["/usr/local/bin/{POSTGRES_SCRIPT}"]',
)
"""Without ENV PATH, ``podman kube play`` fails with "executable file not found in $PATH".

SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
"""

# Files written into the root filesystem before any package is installed.
POLICY_RC_D = "#!/bin/sh\n# No daemon may start while the image is built.\nexit 101\n"
NO_DOCS = (
    "# edgex-smoke: keep the image small.\n"
    "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n"
    "path-exclude=/usr/share/man/*\npath-exclude=/usr/share/info/*\n"
    "path-exclude=/usr/share/locale/*\npath-include=/usr/share/locale/locale.alias\n"
)
NO_JIT = (
    "# edgex-smoke: PostgreSQL runs with jit=off, so LLVM (about 150 MB) is never unpacked.\n"
    "path-exclude=/usr/lib/*/libLLVM-*\npath-exclude=/usr/lib/*/libz3.so*\n"
    "path-exclude=/usr/lib/postgresql/*/lib/bitcode/*\npath-exclude=/usr/lib/postgresql/*/lib/llvmjit*\n"
)
NO_RECOMMENDS = 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
NO_MAIN_CLUSTER = "# edgex-smoke-postgres initialises its own data directory.\ncreate_main_cluster = false\n"
TAR_EXCLUDES = ("./proc/*", "./sys/*", "./dev/*", "./tmp/*", "./var/cache/apt/*", "./var/lib/apt/lists/*")


def _chroot(root: Path, argv: list[str], timeout_s: float) -> None:
    env = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "PATH": STANDARD_PATH}
    proc.run(["chroot", str(root), *argv], timeout_s=timeout_s, env=env, package="coreutils")


def _debootstrap(settings: Infra, root: Path, debs: Path) -> None:
    debs.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror(settings.suite)
    proc.run(
        [
            "debootstrap",
            f"--variant={settings.variant}",
            f"--cache-dir={debs.resolve()}",
            settings.suite,
            str(root),
            mirror,
        ],
        timeout_s=DEBOOTSTRAP_TIMEOUT_S,
        package="debootstrap",
    )


def _configure(root: Path) -> None:
    rootfs.write_file(root, "usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)
    rootfs.write_file(root, "etc/dpkg/dpkg.cfg.d/01-edgex-smoke-nodoc", NO_DOCS)
    rootfs.write_file(root, "etc/dpkg/dpkg.cfg.d/02-edgex-smoke-nojit", NO_JIT)
    rootfs.write_file(root, "etc/apt/apt.conf.d/01-edgex-smoke-norecommends", NO_RECOMMENDS)
    rootfs.write_file(root, "etc/postgresql-common/createcluster.conf", NO_MAIN_CLUSTER)


def _install(settings: Infra, root: Path, archives: Path) -> None:
    archives.mkdir(parents=True, exist_ok=True)
    apt_cache = root / "var/cache/apt/archives"
    apt_cache.mkdir(parents=True, exist_ok=True)
    with rootfs.chroot_mounts(root):
        proc.run(["mount", "--bind", str(archives.resolve()), str(apt_cache)], timeout_s=60, package="mount")
        _chroot(root, ["apt-get", "update", "-q"], APT_TIMEOUT_S)
        _chroot(root, ["apt-get", "install", "-y", "-q", *settings.packages], APT_TIMEOUT_S)


def _add_files(root: Path) -> None:
    target = root / "usr/local/bin" / POSTGRES_SCRIPT
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FILES_DIR / POSTGRES_SCRIPT, target)
    target.chmod(0o755)
    (root / "var/lib/edgex-smoke").mkdir(parents=True, exist_ok=True)


def _tidy(root: Path) -> None:
    """Drop logs and the documentation that the base system unpacked before the excludes existed."""
    for pattern in ("var/log/*.log", "var/log/apt/*", "var/cache/debconf/*-old", "var/lib/dpkg/*-old"):
        for path in root.glob(pattern):
            if path.is_file():
                path.unlink()
    for directory in ("usr/share/man", "usr/share/info", "usr/share/locale"):
        for path in (root / directory).glob("*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
    for path in (root / "usr/share/doc").glob("*/*"):
        if path.name != "copyright" and not path.is_symlink():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def _tar(root: Path, tarball: Path) -> None:
    partial = tarball.with_suffix(".partial")
    argv = ["tar", "--create", f"--file={partial}", f"--directory={root}", "--numeric-owner", "--one-file-system"]
    argv += [f"--exclude={pattern}" for pattern in TAR_EXCLUDES]
    proc.run([*argv, "."], timeout_s=TAR_TIMEOUT_S, package="tar")
    partial.replace(tarball)


def preflight() -> None:
    """Raise unless this process can debootstrap and chroot: root, and the tools on PATH."""
    if os.geteuid() != 0:
        raise PreflightError(
            f"infra image: debootstrap, mount and chroot need root but euid is {os.geteuid()}; run the build as root"
        )
    for tool, package in (("debootstrap", "debootstrap"), ("chroot", "coreutils"), ("mount", "mount"), ("tar", "tar")):
        proc.which(tool, package=package)


def build_tarball(settings: Infra, work: Path, tarball: Path) -> None:
    """Build the infra root filesystem under `work` and pack it into `tarball`.

    ``debootstrap`` fetches the base from the mirror of the host's apt sources; the packages are
    installed in a chroot whose ``policy-rc.d`` keeps every daemon from starting. Downloaded
    ``.deb`` files stay in `work` so that a forced rebuild downloads nothing again.
    """
    preflight()
    root = work / "rootfs"
    rootfs.remove_tree(root)
    try:
        _debootstrap(settings, root, work / "debootstrap-debs")
        _configure(root)
        _install(settings, root, work / "apt-archives")
        _add_files(root)
        _tidy(root)
        _tar(root, tarball)
    finally:
        rootfs.remove_tree(root)
