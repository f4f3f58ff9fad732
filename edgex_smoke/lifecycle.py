"""One smoke run from preflight to teardown, driver-agnostic and free of pytest.

The phases (provision, apply, ready, first_event, teardown) are timed into the
report. An interrupt (Ctrl-C, or SIGTERM turned into KeyboardInterrupt by the
plugin) in any phase still leads to `finish`, which removes what the run created
unless ``--keep`` was given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import distros
import manifests
from distros import Deployment, Distro, DistroSettings, Endpoints, KubeObject, Target
from edgex_client import GatewayClient, MqttWatcher, wait_for
from edgex_smoke.options import AUTO_IMAGES, RunOptions
from edgex_smoke.status import StatusLine
from harness.errors import ProductError, SmokeError
from harness.labels import ownership_labels, with_labels
from reports.schema import PhaseName
from reports.writer import RunReport

log = logging.getLogger(__name__)

FIRST_EVENT_TIMEOUT_S = 60.0
COMMON_CONFIG_PATH = "/etc/edgex-smoke/common/configuration.yaml"
EVENTS_TOPIC = "edgex/events/#"


@dataclass(frozen=True)
class LiveEdgeX:
    """A running EdgeX the suites can talk to, through the gateway only."""

    distro: Distro
    target: Target
    deployment: Deployment
    endpoints: Endpoints
    gateway: GatewayClient
    release: manifests.ReleaseInfo
    images: dict[str, str]
    """Container name → image reference."""

    @property
    def services(self) -> tuple[str, ...]:
        """EdgeX services routed by the gateway, e.g. ``core-data``."""
        return tuple(service.name for service in self.release.services)

    @property
    def common_config_path(self) -> str:
        """Where the common configuration ConfigMap is mounted in every EdgeX container."""
        return COMMON_CONFIG_PATH

    def mqtt(self) -> MqttWatcher:
        """A new MQTT watcher connected through the gateway's MQTT route (use it as a context manager)."""
        return MqttWatcher(self.endpoints.mqtt_host, self.endpoints.mqtt_port)


class SmokeRun:
    """Stands EdgeX up on one target, hands it to the checks, and cleans up after them."""

    def __init__(
        self, options: RunOptions, report: RunReport, status: StatusLine, *, distro: Distro | None = None
    ) -> None:
        """Prepare a run; `distro` replaces the registry's driver (tests pass a double)."""
        self.options = options
        self.report = report
        self.status = status
        self.work_dir = (options.report_dir / f"run-{report.run_id}").resolve()
        self.settings = DistroSettings(
            run_id=report.run_id,
            work_dir=self.work_dir,
            keep=options.keep,
            reuse=options.reuse,
            gateway_http_port=options.gateway_http_port,
            gateway_mqtt_port=options.gateway_mqtt_port,
            progress=status.update,
            kubeconfig=options.kubeconfig,
            context=options.context,
            provision="local" if options.provision == "local" else "attach",
        )
        self.distro = distro or distros.make_distro(options.distro, self.settings)
        self.current_phase: PhaseName | None = None
        self.target: Target | None = None
        self.deployment: Deployment | None = None
        self.diagnostics_dir: Path | None = None

    @contextmanager
    def _phase(self, name: PhaseName) -> Iterator[_PhaseTimer]:
        self.current_phase = name
        self.status.phase(name)
        timer = _PhaseTimer()
        yield timer
        elapsed = time.monotonic() - timer.started
        if not timer.not_reached:
            self.report.record_phase(name, elapsed)
        self.status.done(f"not reached after {elapsed:.1f} s" if timer.not_reached else f"done in {elapsed:.1f} s")
        self.current_phase = None

    # -- start -----------------------------------------------------------------------

    def start(self) -> LiveEdgeX:
        """Run provision, apply, ready and first_event; raise `SmokeError` on the first failure."""
        with self._phase("provision"):
            objects = self._provision()
        target = self.target
        assert target is not None  # set by _provision
        with self._phase("apply"):
            if self.options.reuse:
                self.deployment = self.distro.find_deployment(target)
            else:
                labels = ownership_labels(self.report.run_id, keep=self.options.keep)
                self.deployment = self.distro.deploy(target, with_labels(objects, labels))
        deployment = self.deployment
        with self._phase("ready"):
            live = self._wait_ready(target, deployment, objects)
        with self._phase("first_event") as timer:
            timer.not_reached = not self._wait_first_event(live)
        return live

    def _render(self, source: str) -> list[KubeObject]:
        return manifests.render(
            release=self.options.release,
            distro=self.options.distro,
            images=manifests.ImageSource.parse(source),
            security=self.options.security,
            run_id=self.report.run_id,
            gateway_http_port=self.options.gateway_http_port,
            gateway_mqtt_port=self.options.gateway_mqtt_port,
        )

    def _provision(self) -> list[KubeObject]:
        source = self._settle_image_source()
        objects = self._render(source)
        refs = list(manifests.image_refs(objects).values())
        self.distro.preflight(refs)
        self.target = self.distro.up()
        self.distro.wait_ready(self.target, timeout_s=self.options.ready_timeout_s)
        fingerprint = self.distro.fingerprint(self.target)
        self.report.set_mode(self.target.mode)
        self.report.set_fingerprint(dict(fingerprint.facts))
        self.report.add_reaped(self.distro.reap(self.target))
        self.report.set_image_source(source)
        if not self.options.reuse:
            self.distro.load_images(self.target, refs)
        return objects

    def _settle_image_source(self) -> str:
        """``--images auto``: upstream if the target can pull it, else the lab images; decided before anything starts.

        One probe decides: the first upstream image that is not already local. The lab images are
        not built here; if they are missing too, loading them fails with the one-line preflight error.
        """
        if self.options.images != AUTO_IMAGES:
            return self.options.images
        upstream = list(manifests.image_refs(self._render("upstream")).values())
        probe = upstream[0] if upstream else ""
        if not probe or self.distro.can_pull(probe):
            return "upstream"
        self.status.update(f"upstream images cannot be pulled here ({probe}); using the lab images")
        return "lab"

    def _wait_ready(self, target: Target, deployment: Deployment, objects: list[KubeObject]) -> LiveEdgeX:
        self.distro.wait_deployed(target, deployment, timeout_s=self.options.ready_timeout_s)
        endpoints = self.distro.endpoints(target, deployment)
        gateway = GatewayClient(endpoints.gateway_url)
        release = manifests.release_info(self.options.release)
        services = tuple(service.name for service in release.services)
        self._wait_pings(target, deployment, gateway, services)
        for service in services:
            self.report.set_version(service, gateway.version(service))
        images = manifests.image_refs(objects) if objects else {}
        digests = self._digests(list(images.values()))
        self.report.set_images(
            {"component": name, "ref": ref, "digest": digests.get(ref)} for name, ref in images.items()
        )
        return LiveEdgeX(self.distro, target, deployment, endpoints, gateway, release, dict(images))

    def _digests(self, refs: list[str]) -> dict[str, str | None]:
        return dict(self.distro.image_digests(refs))

    def _wait_pings(
        self, target: Target, deployment: Deployment, gateway: GatewayClient, services: tuple[str, ...]
    ) -> None:
        started = time.monotonic()
        silent = list(services)

        def all_answer() -> bool:
            silent[:] = [service for service in services if not _answers_ping(gateway, service)]
            answering = len(services) - len(silent)
            self.status.update(
                f"waiting for {answering}/{len(services)} services to answer ping through the gateway "
                f"({time.monotonic() - started:.0f} s)"
            )
            return not silent

        try:
            wait_for(
                all_answer,
                timeout_s=self.options.ready_timeout_s,
                what=f"gateway: /api/v3/ping at {gateway.base_url}",
                error=ProductError,
            )
        except ProductError as err:
            raise ProductError(
                f"gateway at {gateway.base_url}: {', '.join(silent)} did not answer /api/v3/ping within "
                f"{self.options.ready_timeout_s:g} s ({len(services) - len(silent)}/{len(services)} answered); "
                f"containers: {self._container_summary(target, deployment)}; see their logs in the diagnostics"
            ) from err

    def _container_summary(self, target: Target, deployment: Deployment) -> str:
        try:
            states = self.distro.containers(target, deployment)
        except SmokeError as err:
            return f"state unknown ({err})"
        troubled = [
            f"{s.name} {s.state}, {s.restarts} restart(s)" + (f", exit code {s.exit_code}" if s.exit_code else "")
            for s in states
            if s.restarts or not s.ready
        ]
        return "; ".join(troubled) or f"all {len(states)} running, none restarted"

    def _wait_first_event(self, live: LiveEdgeX) -> bool:
        """Wait for any EdgeX event through the gateway's MQTT route; True if one arrived."""
        try:
            with live.mqtt() as watcher:
                watcher.subscribe(EVENTS_TOPIC, timeout_s=10)
                watcher.expect(lambda _m: True, timeout_s=FIRST_EVENT_TIMEOUT_S, what="the first EdgeX event")
        except ProductError as err:
            # A missing event is a product failure that the MQTT check reports; the checks still run.
            self.status.update(f"no event: {err}")
            return False
        return True

    # -- finish ----------------------------------------------------------------------

    def finish(self, *, failed: bool) -> None:
        """Save diagnostics if anything failed, then remove what this run created (unless ``--keep``)."""
        with self._phase("teardown"):
            if failed and self.target is not None:
                self.diagnostics_dir = self.work_dir / "diagnostics"
                self.status.update(f"saving diagnostics to {self.diagnostics_dir}")
                self.distro.collect_diagnostics(self.target, self.deployment, self.diagnostics_dir)
            if self.options.keep:
                self.status.update("--keep: leaving the target and the EdgeX pod running")
                return
            if self.deployment is not None and self.target is not None:
                self.status.update(f"removing pod {self.deployment.pod}")
                self.distro.undeploy(self.target, self.deployment)
            if self.target is not None:
                self.distro.down(self.target)


class _PhaseTimer:
    """Start time of a phase, and whether it ended without reaching its goal."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.not_reached = False


def _answers_ping(gateway: GatewayClient, service: str) -> bool:
    try:
        gateway.ping(service)
    except SmokeError:
        return False
    return True
