"""Build each EdgeX service from its release module, as that module's own main module.

Every pinned module is downloaded through the Go proxy the environment names (``GOPROXY``, as Go
defines it), checked against the ``h1:`` sum in lab/pins.toml, and copied into a writable source
tree of its own. Services are built there with the release's own go.mod and go.sum, so the binary
links exactly the dependency versions the release pins; `check_build_list` proves it afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from harness import proc
from harness.errors import InfraError
from lab import toolchain
from lab.pins import Module, PinError, Service

DOWNLOAD_TIMEOUT_S = 1800.0
BUILD_TIMEOUT_S = 1800.0
QUERY_TIMEOUT_S = 120.0
_BUILD_LIST_LINE = re.compile(r"^\s*(?P<kind>mod|dep|=>)\s+(?P<path>\S+)\s+(?P<version>\S+)")
_REQUIRE = re.compile(r"^(?P<path>[\w.\-~/]+)\s+(?P<version>v\S+?)(?:\s*//.*)?$")


@dataclass(frozen=True)
class ModuleSource:
    """A downloaded module: its read-only cache directory and go.mod text."""

    module: Module
    cache_dir: Path
    go_mod: str


def _env(module: Module | None = None) -> dict[str, str]:
    """Static binaries; ``-mod=readonly`` so a build never edits the release's go.mod or go.sum.

    The pinned module itself is verified against its ``h1:`` sum in lab/pins.toml, so the public
    checksum database, which does not know every pseudo-version a private proxy serves, is skipped
    for that one path. Everything the release requires is checked against the release's go.sum.
    """
    env = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": "local"}
    if module is not None:
        existing = os.environ.get("GONOSUMDB", "")
        env["GONOSUMDB"] = ",".join(part for part in (existing, module.path) if part)
    return env


def go_version() -> str:
    """Return the toolchain's version, e.g. ``go1.26.8`` (part of every build step's key)."""
    return proc.run([toolchain.go(), "env", "GOVERSION"], timeout_s=QUERY_TIMEOUT_S).stdout.strip()


def download(module: Module, scratch: Path) -> ModuleSource:
    """Download `module` at its pinned version; raise `PinError` if its content differs from the pin."""
    scratch.mkdir(parents=True, exist_ok=True)
    done = proc.run(
        [toolchain.go(), "mod", "download", "-json", f"{module.path}@{module.version}"],
        timeout_s=DOWNLOAD_TIMEOUT_S,
        cwd=scratch,
        env={**_env(module), "GOFLAGS": "-mod=mod"},
        check=False,
    )
    try:
        info = json.loads(done.stdout)
    except ValueError:
        info = {}
    if done.returncode != 0 or info.get("Error"):
        last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InfraError(
            f"go mod download {module.path}@{module.version}: {info.get('Error') or last_line}; "
            "set GOPROXY to a proxy that serves it (make does so when ../shared/goproxy exists)"
        )
    if info.get("Sum") != module.sum:
        raise PinError(
            f"{module.path}@{module.version}: the proxy served content with sum {info.get('Sum')!r}, "
            f"but lab/pins.toml pins {module.sum!r}; check GOPROXY, or update the pin if the release changed"
        )
    go_mod = Path(info["GoMod"]).read_text(encoding="utf-8")
    return ModuleSource(module=module, cache_dir=Path(info["Dir"]), go_mod=go_mod)


def prepare_tree(source: ModuleSource, dest: Path) -> Path:
    """Copy the module into `dest` (writable), replacing an older copy; return `dest`.

    The module cache is read-only and ``go build`` writes nothing into the tree, but a private
    copy keeps each release's build context apart from every other one.
    """
    if dest.exists():
        _make_writable(dest)
        shutil.rmtree(dest)
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        _make_writable(partial)
        shutil.rmtree(partial)
    shutil.copytree(source.cache_dir, partial, symlinks=True)
    _make_writable(partial)
    partial.replace(dest)
    return dest


def _make_writable(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def requirements(go_mod: str) -> dict[str, str]:
    """Return module path → version for every ``require`` of a go.mod text."""
    found: dict[str, str] = {}
    in_block = False
    for line in go_mod.splitlines():
        stripped = line.strip()
        if stripped.startswith("require ("):
            in_block = True
        elif in_block and stripped == ")":
            in_block = False
        elif in_block or stripped.startswith("require "):
            match = _REQUIRE.match(stripped.removeprefix("require ").strip())
            if match:
                found[match["path"]] = match["version"]
    return found


def ldflags(service: Service, go_mod: str) -> str:
    """Return the ``-ldflags`` value of `service`, as the release's Makefile writes it.

    The version variables get the module's release (what ``/api/v3/version`` reports); the SDK
    variable gets the device-sdk-go version that the release's go.mod requires.
    """
    flags = ["-s", "-w", *(f"-X {var}={service.module.release}" for var in service.version_vars)]
    if service.sdk_version_var:
        sdk = requirements(go_mod).get(service.sdk_module)
        if sdk is None:
            raise PinError(
                f"lab/pins.toml [services.{service.name}]: {service.module.path}'s go.mod requires no "
                f"{service.sdk_module}; fix sdk_module or drop sdk_version_var"
            )
        flags.append(f"-X {service.sdk_version_var}={sdk}")
    return " ".join(flags)


def build_argv(service: Service, go_mod: str, output: Path, package: str | None = None) -> list[str]:
    """Return the ``go build`` command line of `service` (or of its further `package`), run in its module's tree."""
    argv = [toolchain.go(), "build", "-trimpath", "-buildvcs=false"]
    if service.tags:
        argv.append("-tags=" + ",".join(service.tags))
    return [*argv, "-ldflags=" + ldflags(service, go_mod), "-o", str(output), package or service.package]


def build(tree: Path, source: ModuleSource, service: Service, output: Path, package: str | None = None) -> None:
    """Build `service` (or its further `package`) in `tree` into `output` (written atomically); check its build list."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    proc.run(
        build_argv(service, source.go_mod, partial, package),
        timeout_s=BUILD_TIMEOUT_S,
        cwd=tree,
        env=_env(source.module),
    )
    check_build_list(service.name, build_list(partial), source.go_mod)
    partial.replace(output)


def build_list(binary: Path) -> dict[str, str]:
    """Return module path → version of every module linked into `binary` (``go version -m``)."""
    done = proc.run([toolchain.go(), "version", "-m", str(binary)], timeout_s=QUERY_TIMEOUT_S)
    modules: dict[str, str] = {}
    for line in done.stdout.splitlines():
        match = _BUILD_LIST_LINE.match(line)
        if match is None:
            continue
        if match["kind"] == "=>":
            raise InfraError(f"{binary}: module replaced by {match['path']}; a lab build must not replace modules")
        if match["kind"] == "dep":
            modules[match["path"]] = match["version"]
    return modules


def check_build_list(name: str, linked: dict[str, str], go_mod: str) -> None:
    """Raise `InfraError` unless every linked module has the version the release's go.mod requires."""
    required = requirements(go_mod)
    wrong = {path: version for path, version in linked.items() if required.get(path) != version}
    if wrong:
        path, version = sorted(wrong.items())[0]
        raise InfraError(
            f"{name}: links {path} {version} but its release's go.mod requires "
            f"{required.get(path, 'nothing')} ({len(wrong)} module(s) differ); build it as its own main module"
        )
