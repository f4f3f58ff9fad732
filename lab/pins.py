"""Read and check ``lab/pins.toml``: the Go modules, services and Debian settings the lab builds."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import InfraError
from lab.paths import PINS_FILE

PSEUDO_VERSION = re.compile(r"^v0\.0\.0-(?P<time>\d{14})-(?P<sha>[0-9a-f]{12})$")
SEMVER = re.compile(r"^v\d+\.\d+\.\d+$")


class PinError(InfraError):
    """``lab/pins.toml`` is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Module:
    """A pinned Go module: the service modules are pinned as pseudo-versions of their release commit."""

    name: str
    path: str
    version: str
    release: str
    tag: str
    commit: str
    sum: str
    """The ``h1:`` hash of the module's content, as ``go mod download -json`` reports it."""


@dataclass(frozen=True)
class Service:
    """One EdgeX binary built from a pinned module, and the image made from it."""

    name: str
    module: Module
    package: str
    res: str
    tags: tuple[str, ...]
    version_vars: tuple[str, ...]
    """Set to the module's release: what ``/api/v3/version`` reports."""
    sdk_version_var: str
    """Set to the version of `sdk_module` that the release's go.mod requires; empty for none."""
    sdk_module: str
    user: str
    binary_at: str = ""
    """Where the main binary sits in the image; ``/<name>`` when empty (the upstream EdgeX service images)."""
    res_at: str = "/res"
    """Where `res` goes in the image."""
    extra_binaries: tuple[tuple[str, str], ...] = ()
    """(image path, package) of further binaries built from the same module with the same flags."""
    files: tuple[tuple[str, str], ...] = ()
    """(image path, path inside the module) of single files the upstream image also carries."""
    args: tuple[str, ...] | None = None
    """The image's default arguments; the upstream EdgeX services' (config provider, registry) when None."""
    workdir: str = "/"
    """The image's working directory: EdgeX binaries read ``res/`` relative to it."""

    @property
    def binary_path(self) -> str:
        """Where the main binary sits in the image."""
        return self.binary_at or f"/{self.name}"


@dataclass(frozen=True)
class Infra:
    """The Debian infrastructure image's settings."""

    suite: str
    variant: str
    tag: str
    packages: tuple[str, ...]


@dataclass(frozen=True)
class OpenBao:
    """OpenBao's release: a source archive built as its own main module (lab/openbao.py)."""

    version: str
    tag: str
    commit: str
    build_date: str
    """The release's build date, stamped into ``bao version`` as upstream's release build does."""
    source: str
    """The archive's file name (``git archive`` of `tag`), looked for in ../shared/src."""
    sha256: str


@dataclass(frozen=True)
class Pins:
    """Everything ``lab/pins.toml`` pins, plus a digest of its text."""

    infra: Infra
    modules: dict[str, Module]
    services: dict[str, Service]
    digest: str
    openbao: OpenBao | None = None


def check_pseudo_version(version: str, *, commit: str = "", subject: str = "module") -> None:
    """Raise `PinError` unless `version` is ``v0.0.0-<YYYYMMDDhhmmss>-<12 hex>`` matching `commit`.

    Args:
        version: The candidate pseudo-version.
        commit: The full commit sha it should abbreviate; not checked when empty.
        subject: What the version belongs to, named in the message.
    """
    match = PSEUDO_VERSION.match(version)
    if match is None:
        raise PinError(
            f"{subject}: version {version!r} is not a pseudo-version; "
            "write v0.0.0-<UTC commit time YYYYMMDDhhmmss>-<12-char commit sha> in lab/pins.toml"
        )
    try:
        datetime.strptime(match["time"], "%Y%m%d%H%M%S")
    except ValueError as err:
        raise PinError(
            f"{subject}: time {match['time']!r} in {version!r} is not a valid date; fix lab/pins.toml"
        ) from err
    if commit and not commit.startswith(match["sha"]):
        raise PinError(
            f"{subject}: pseudo-version {version!r} names commit {match['sha']} but commit is {commit!r}; "
            "make them agree in lab/pins.toml"
        )


def _table(data: dict[str, Any], key: str, where: str, *, optional: bool = False) -> dict[str, Any]:
    value = data.get(key, {} if optional else None)
    if not isinstance(value, dict):
        raise PinError(f"lab/pins.toml: [{where}{key}] is missing or not a table; add it")
    return value


def _text(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise PinError(f"lab/pins.toml: [{where}] {key} is missing or not a non-empty string; set it")
    return value


def _texts(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PinError(f"lab/pins.toml: [{where}] {key} must be a list of strings; fix it")
    return tuple(value)


def _module(name: str, data: dict[str, Any]) -> Module:
    where = f"modules.{name}"
    module = Module(
        name=name,
        path=_text(data, "path", where),
        version=_text(data, "version", where),
        release=_text(data, "release", where),
        tag=_text(data, "tag", where),
        commit=_text(data, "commit", where),
        sum=_text(data, "sum", where),
    )
    if not re.fullmatch(r"[0-9a-f]{40}", module.commit):
        raise PinError(f"lab/pins.toml: [{where}] commit {module.commit!r} is not a 40-char sha; write the full sha")
    if not module.sum.startswith("h1:"):
        raise PinError(
            f"lab/pins.toml: [{where}] sum {module.sum!r} is not an h1: hash; "
            f"write the Sum that 'go mod download -json {module.path}@{module.version}' prints"
        )
    if module.tag != f"v{module.release}":
        raise PinError(f"lab/pins.toml: [{where}] tag {module.tag!r} does not name release {module.release!r}; fix one")
    if SEMVER.match(module.version) is None:
        check_pseudo_version(module.version, commit=module.commit, subject=f"lab/pins.toml [{where}]")
    return module


def _service(name: str, data: dict[str, Any], modules: dict[str, Module]) -> Service:
    where = f"services.{name}"
    module_name = _text(data, "module", where)
    if module_name not in modules:
        raise PinError(
            f"lab/pins.toml: [{where}] module {module_name!r} is not one of {sorted(modules)}; "
            "add a [modules.<name>] table or fix the name"
        )
    sdk_version_var, sdk_module = str(data.get("sdk_version_var", "")), str(data.get("sdk_module", ""))
    if bool(sdk_version_var) != bool(sdk_module):
        raise PinError(f"lab/pins.toml: [{where}] sdk_version_var and sdk_module go together; set both or neither")
    return Service(
        name=name,
        module=modules[module_name],
        package=_text(data, "package", where),
        res=_text(data, "res", where),
        tags=_texts(data, "tags", where),
        version_vars=_texts(data, "version_vars", where),
        sdk_version_var=sdk_version_var,
        sdk_module=sdk_module,
        user=_text(data, "user", where, default="0:0"),
        binary_at=_image_path(data, "binary_at", where, default=f"/{name}"),
        res_at=_image_path(data, "res_at", where, default="/res"),
        extra_binaries=_image_paths(data, "extra_binaries", where),
        files=_image_paths(data, "files", where),
        args=_texts(data, "args", where) if "args" in data else None,
        workdir=_image_path(data, "workdir", where, default="/"),
    )


def _image_path(data: dict[str, Any], key: str, where: str, *, default: str) -> str:
    value = _text(data, key, where, default=default)
    if not value.startswith("/") or ".." in value.split("/"):
        raise PinError(f"lab/pins.toml: [{where}] {key} {value!r} is not an absolute path inside the image; fix it")
    return value


def _image_paths(data: dict[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
    """An optional table of image path → source (a package or a file in the module)."""
    table = _table(data, key, f"{where}.", optional=True)
    for path, source in table.items():
        _image_path({key: path}, key, where, default="/")
        if not isinstance(source, str) or not source or source.startswith("/") or ".." in source.split("/"):
            raise PinError(f"lab/pins.toml: [{where}.{key}] {path!r} = {source!r} is not a path inside the module")
    return tuple(sorted(table.items()))


def parse(text: str) -> Pins:
    """Parse the text of a pins file; raise `PinError` naming the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PinError(f"lab/pins.toml: not valid TOML ({err}); fix the syntax") from err
    infra_data = _table(data, "infra", "")
    infra = Infra(
        suite=_text(infra_data, "suite", "infra"),
        variant=_text(infra_data, "variant", "infra", default="minbase"),
        tag=_text(infra_data, "tag", "infra"),
        packages=_texts(infra_data, "packages", "infra"),
    )
    modules = {name: _module(name, body) for name, body in _table(data, "modules", "", optional=True).items()}
    services = {
        name: _service(name, body, modules) for name, body in _table(data, "services", "", optional=True).items()
    }
    return Pins(
        infra=infra,
        modules=modules,
        services=services,
        digest=hashlib.sha256(text.encode()).hexdigest(),
        openbao=_openbao(data["openbao"]) if "openbao" in data else None,
    )


def _openbao(data: object) -> OpenBao:
    if not isinstance(data, dict):
        raise PinError("lab/pins.toml: [openbao] is not a table; fix it")
    pin = OpenBao(
        version=_text(data, "version", "openbao"),
        tag=_text(data, "tag", "openbao"),
        commit=_text(data, "commit", "openbao"),
        build_date=_text(data, "build_date", "openbao"),
        source=_text(data, "source", "openbao"),
        sha256=_text(data, "sha256", "openbao"),
    )
    if pin.tag != f"v{pin.version}":
        raise PinError(f"lab/pins.toml: [openbao] tag {pin.tag!r} does not name version {pin.version!r}; fix one")
    if not re.fullmatch(r"[0-9a-f]{40}", pin.commit) or not re.fullmatch(r"[0-9a-f]{64}", pin.sha256):
        raise PinError("lab/pins.toml: [openbao] commit must be a 40-char sha and sha256 a 64-char digest; fix them")
    if "/" in pin.source or pin.source.startswith("."):
        raise PinError(f"lab/pins.toml: [openbao] source {pin.source!r} must be a bare file name; fix it")
    return pin


def load(path: Path = PINS_FILE) -> Pins:
    """Read and parse the pins file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PinError(f"{path}: cannot read the lab pins ({err.strerror}); restore lab/pins.toml") from err
    return parse(text)
