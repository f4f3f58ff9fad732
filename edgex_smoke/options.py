"""The smoke run's command-line options, defined once in `OPTIONS`.

The plugin registers them from that table, validation reads them from it and `RunOptions`
is built from it; a test checks the README's options table against it. Every value arrives
as the string the user typed and is parsed here, so a bad number is one line in the house
format, not argparse's usage message. Free of pytest: the plugin turns an `OptionError` into
``pytest.UsageError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import distros
import manifests
from harness.errors import SmokeError

SECURITY_MODES = ("off", "on")
PROVISION_MODES = ("attach", "local")
AUTO_IMAGES = "auto"
MAX_READY_TIMEOUT_S = 6 * 3600.0
"""No wait of a smoke run may be longer: a typo such as 30000 is caught, a slow lab box is not."""


class OptionError(SmokeError):
    """A command-line option has a bad value."""


@dataclass(frozen=True)
class Option:
    """One command-line option: its flag, default, help and how the README shows its default."""

    flag: str
    default: str | None
    help: str
    metavar: str | None = None
    switch: bool = False
    """A flag without a value (``--keep``); its default is off."""
    shown_default: str | None = None
    """The README's default cell when it is not the default itself (e.g. ``$KUBECONFIG``)."""

    @property
    def dest(self) -> str:
        """The attribute pytest stores the value under, e.g. ``ready_timeout``."""
        return self.flag.removeprefix("--").replace("-", "_")

    def usage(self) -> str:
        """As the README's first column shows it: ``--distro NAME``, ``--keep``."""
        return f"{self.flag} {self.metavar}" if self.metavar else self.flag

    def readme_default(self) -> str:
        """As the README's second column shows it."""
        if self.shown_default is not None:
            return self.shown_default
        return "off" if self.switch else f"`{self.default}`"


OPTIONS: tuple[Option, ...] = (
    Option(
        "--distro",
        distros.DEFAULT_DISTRO,
        f"target to run EdgeX on, one of: {', '.join(distros.names())}",
        "NAME",
    ),
    Option("--edgex", "4.0", "EdgeX release profile (manifests/releases/)", "RELEASE"),
    Option(
        "--security",
        "off",
        "EdgeX security mode: on adds EdgeX's secret store and security services, JWT and TLS at the gateway",
        "off|on",
    ),
    Option(
        "--images",
        AUTO_IMAGES,
        "image source: auto (upstream if the target can pull it, else lab), upstream, lab, or a mirror's prefix",
        "SOURCE",
    ),
    Option("--keep", None, "leave the target and the EdgeX pod running", switch=True),
    Option(
        "--reuse",
        None,
        "attach to an EdgeX kept earlier with --keep by a run that has ended; only run the checks",
        switch=True,
    ),
    Option(
        "--name",
        None,
        "name of this run's EdgeX pod; with --reuse, the kept EdgeX to attach to",
        "NAME",
        shown_default="`edgex-<run id>`",
    ),
    Option("--report-dir", "reports/out", "where reports, JUnit files and diagnostics go", "DIR"),
    Option("--ready-timeout", "300", "bound of each readiness wait, in seconds", "S"),
    Option("--gateway-ports", "8000:1884", "host ports of the gateway's HTTP and MQTT routes", "H:M"),
    Option(
        "--kubeconfig",
        None,
        "Kubernetes targets: attach to the cluster of this kubeconfig",
        "FILE",
        shown_default="`$KUBECONFIG`",
    ),
    Option("--context", None, "Kubernetes targets: the kubeconfig context to use", "NAME", shown_default="current"),
    Option(
        "--provision",
        "attach",
        "attach to an existing target, or local: use the cluster running on this host "
        f"({', '.join(distros.local_provision_names())})",
        "attach|local",
    ),
)


def add_all(add: Callable[..., None]) -> None:
    """Register every option with `add` (pytest's ``group.addoption``)."""
    for option in OPTIONS:
        if option.switch:
            add(option.flag, action="store_true", default=False, help=option.help)
        else:
            default = f" (default: {option.default})" if option.default is not None else ""
            add(option.flag, default=option.default, metavar=option.metavar, help=option.help + default)


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
    """``attach`` to an existing target, or ``local``: the cluster running on this host."""
    name: str | None = None
    """The EdgeX pod's name (``--name``); None: named after the run id, or with ``--reuse``, the only kept one."""


def _choice(flag: str, value: str, valid: tuple[str, ...] | list[str]) -> str:
    if value not in valid:
        raise OptionError(f"{flag}: unknown value {value!r}; choose one of: {', '.join(valid)}")
    return value


def _port(flag: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise OptionError(f"{flag}: {value} is not a TCP port; give a number from 1 to 65535")
    return value


def parse_seconds(flag: str, text: str | float) -> float:
    """A finite, positive number of seconds no larger than `MAX_READY_TIMEOUT_S`."""
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{flag}: {text!r} is not a number of seconds; give e.g. 300") from None
    if not math.isfinite(value):
        raise OptionError(f"{flag}: {text} is not a finite number of seconds; give e.g. 300")
    if value <= 0:
        raise OptionError(f"{flag}: {text} is not positive; give seconds, e.g. 300")
    if value > MAX_READY_TIMEOUT_S:
        raise OptionError(f"{flag}: {text} s is more than {MAX_READY_TIMEOUT_S:.0f} s; give seconds, e.g. 300")
    return value


def parse_ports(value: str) -> tuple[int, int]:
    """Parse ``HTTP:MQTT`` (for example ``8000:1884``)."""
    try:
        http, mqtt = (int(part) for part in value.split(":"))
    except ValueError:
        raise OptionError(f"--gateway-ports: {value!r} is not HTTP:MQTT; give two ports, e.g. 8000:1884") from None
    return http, mqtt


def from_values(values: Mapping[str, Any]) -> RunOptions:
    """Parse and check the values pytest collected (by `Option.dest`); raise `OptionError` on the first bad one."""
    http_port, mqtt_port = parse_ports(str(values["gateway_ports"]))
    return validate(
        distro=values["distro"],
        release=values["edgex"],
        security=values["security"],
        images=values["images"],
        keep=bool(values["keep"]),
        reuse=bool(values["reuse"]),
        report_dir=values["report_dir"],
        ready_timeout_s=parse_seconds("--ready-timeout", values["ready_timeout"]),
        gateway_http_port=http_port,
        gateway_mqtt_port=mqtt_port,
        kubeconfig=values.get("kubeconfig"),
        context=values.get("context"),
        provision=values.get("provision") or "attach",
        name=values.get("name"),
    )


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
    name: str | None = None,
) -> RunOptions:
    """Check every option and return them as one frozen value, or raise `OptionError`."""
    _choice("--distro", distro, distros.names())
    _choice("--edgex", release, list(manifests.RELEASES))
    _choice("--security", security, SECURITY_MODES)
    if images != AUTO_IMAGES:
        try:
            manifests.ImageSource.parse(images)
        except (SmokeError, ValueError) as err:
            message = str(err)
            raise OptionError(message if message.startswith("--images") else f"--images: {message}") from None
    parse_seconds("--ready-timeout", ready_timeout_s)
    if gateway_http_port == gateway_mqtt_port:
        raise OptionError(f"--gateway-ports: HTTP and MQTT both use {gateway_http_port}; give two different ports")
    _choice("--provision", provision, PROVISION_MODES)
    local_targets = distros.local_provision_names()
    if provision == "local" and distro not in local_targets:
        raise OptionError(
            f"--provision local: {distro!r} has no local target; use it with --distro "
            f"{' or '.join(local_targets)}, or drop --provision"
        )
    if kubeconfig is not None and not Path(kubeconfig).is_file():
        raise OptionError(f"--kubeconfig: {kubeconfig!r} is not a readable file; give the path of a kubeconfig")
    if provision == "local" and kubeconfig is not None:
        raise OptionError("--kubeconfig with --provision local: the local cluster names its own kubeconfig; drop one")
    if name is not None:
        try:
            manifests.check_name(name)
        except SmokeError as err:
            raise OptionError(f"--{err}") from None
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
        name=name,
    )
