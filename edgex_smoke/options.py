"""The smoke run's command-line options, validated once, up front.

Validation lives here, free of pytest, so it can be tested directly; the plugin
turns an `OptionError` into ``pytest.UsageError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import distros
import manifests
from harness.errors import SmokeError

SECURITY_MODES = ("off", "on")
PROVISION_MODES = ("attach", "local")
LOCAL_PROVISION_DISTROS = ("k8s",)
AUTO_IMAGES = "auto"


class OptionError(SmokeError):
    """A command-line option has a bad value."""


@dataclass(frozen=True)
class RunOptions:
    """The validated options of one smoke run."""

    distro: str
    release: str
    security: str
    images: str
    """``auto``, ``upstream``, ``lab`` or a registry prefix."""
    keep: bool
    reuse: bool
    report_dir: Path
    ready_timeout_s: float
    gateway_http_port: int
    gateway_mqtt_port: int
    kubeconfig: Path | None = None
    context: str | None = None
    provision: str = "attach"
    """``attach`` to an existing target, or ``local``: start the lab cluster built on this host."""


def _choice(option: str, value: str, valid: tuple[str, ...] | list[str]) -> str:
    if value not in valid:
        raise OptionError(f"{option}: unknown value {value!r}; choose one of: {', '.join(valid)}")
    return value


def _port(option: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise OptionError(f"{option}: {value} is not a TCP port; give a number from 1 to 65535")
    return value


def validate(
    *,
    distro: str,
    release: str,
    security: str,
    images: str,
    keep: bool,
    reuse: bool,
    report_dir: str,
    ready_timeout_s: float,
    gateway_http_port: int,
    gateway_mqtt_port: int,
    kubeconfig: str | None = None,
    context: str | None = None,
    provision: str = "attach",
) -> RunOptions:
    """Check every option and return them as one frozen value, or raise `OptionError`."""
    _choice("--distro", distro, distros.names())
    _choice("--edgex", release, list(manifests.RELEASES))
    _choice("--security", security, SECURITY_MODES)
    if security == "on":
        raise OptionError(
            "--security on: secure mode (JWT through the gateway, TLS with the deployment's CA) "
            "is not implemented yet; use --security off"
        )
    if images != AUTO_IMAGES:
        try:
            manifests.ImageSource.parse(images)
        except (SmokeError, ValueError) as err:
            raise OptionError(f"--images: {err}") from None
    if ready_timeout_s <= 0:
        raise OptionError(f"--ready-timeout: {ready_timeout_s} is not positive; give seconds, e.g. 300")
    if gateway_http_port == gateway_mqtt_port:
        raise OptionError(f"--gateway-ports: HTTP and MQTT both use {gateway_http_port}; give two different ports")
    _choice("--provision", provision, PROVISION_MODES)
    if provision == "local" and distro not in LOCAL_PROVISION_DISTROS:
        raise OptionError(
            f"--provision local: {distro!r} has no local lab target; use it with --distro "
            f"{' or '.join(LOCAL_PROVISION_DISTROS)}, or drop --provision"
        )
    if kubeconfig is not None and not Path(kubeconfig).is_file():
        raise OptionError(f"--kubeconfig: {kubeconfig!r} is not a readable file; give the path of a kubeconfig")
    if provision == "local" and kubeconfig is not None:
        raise OptionError("--kubeconfig with --provision local: a local cluster makes its own kubeconfig; drop one")
    directory = Path(report_dir)
    if directory.exists() and not directory.is_dir():
        raise OptionError(f"--report-dir: {report_dir!r} exists and is not a directory; give a directory")
    return RunOptions(
        distro=distro,
        release=release,
        security=security,
        images=images,
        keep=keep,
        reuse=reuse,
        report_dir=directory,
        ready_timeout_s=ready_timeout_s,
        gateway_http_port=_port("--gateway-ports", gateway_http_port),
        gateway_mqtt_port=_port("--gateway-ports", gateway_mqtt_port),
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        context=context,
        provision=provision,
    )


def parse_ports(value: str) -> tuple[int, int]:
    """Parse ``HTTP:MQTT`` (for example ``8000:1884``)."""
    try:
        http, mqtt = (int(part) for part in value.split(":"))
    except ValueError:
        raise OptionError(f"--gateway-ports: {value!r} is not HTTP:MQTT; give two ports, e.g. 8000:1884") from None
    return http, mqtt
