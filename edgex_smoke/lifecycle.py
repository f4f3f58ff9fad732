"""One smoke run from preflight to teardown, driver-agnostic and free of pytest.

The phases (provision, apply, ready, teardown) are timed into the report. The
first event is not waited for: the run's bus observer starts when ready ends, the
checks run meanwhile, and `first_event_s` reads when the first fresh event came.

An interrupt (Ctrl-C, or SIGTERM turned into KeyboardInterrupt by the plugin) in
any phase still leads to `finish`, which removes what the run created unless
``--keep`` was given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import distros
import manifests
from distros import (
    CRASH_LOOP_RESTARTS,
    ContainerState,
    Deployment,
    Distro,
    DistroSettings,
    Endpoints,
    KubeObject,
    Target,
)
from edgex_client import BusObserver, GatewayClient, MqttWatcher, fresh_event, wait_for
from edgex_smoke import diagnosis, secure
from edgex_smoke.options import AUTO_IMAGES, RunOptions
from edgex_smoke.status import StatusLine
from harness.errors import (
    DiagnosedError,
    ProductError,
    ReadinessBlockedError,
    ReadinessTimeoutError,
    RootCause,
    SmokeError,
)
from harness.labels import gateway_port_labels, instance_name, ownership_labels, with_labels
from reports.schema import PhaseName
from reports.writer import RunReport

log = logging.getLogger(__name__)

PING_POLL_S = 0.25
SETTLE_S = 1.0
"""Every service must keep answering this long: device-virtual with no devices answers ping and exits within it."""
"""Six pings through the gateway cost milliseconds; polling briskly ends the ready phase when they answer."""
CONTAINER_POLL_S = 3.0
"""How often the ready phase looks at the containers while it waits for pings."""
DEPLOY_SLICE_S = 5.0
"""How long each of the target's own readiness waits runs before the pod is looked at again."""
RECOVERY_S = 20.0
"""A container down this long while the run waits has not recovered: the wait ends with its diagnosis."""
NOT_CREATED_S = 90.0
"""How long a pod none of whose containers its node ever reported may wait: longer than the node lifecycle's
grace (50 s) before a lost node turns NotReady, so a driver that watches its node (kubeedge) says which first."""
STALL_S = 40.0
"""Nothing changed in the pod for this long while services are silent: the start is stuck (EdgeX's
services start within seconds of their dependencies; the pod's own start script waits up to 60 s)."""
COMMON_CONFIG_PATH = "/etc/edgex-smoke/common/configuration.yaml"


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
    bus: BusObserver
    """The run's one subscription to EdgeX's events, from the end of the ready phase on."""
    credentials: secure.Credentials | None = None
    """Secure mode: the gateway's CA and name, the run's JWT and the broker's credentials."""

    @property
    def services(self) -> tuple[str, ...]:
        """EdgeX services routed by the gateway, e.g. ``core-data``."""
        return tuple(service.name for service in self.release.services)

    @property
    def internal_ports(self) -> dict[str, int]:
        """Every listener of the pod that must stay inside it, by component.

        The database, the broker and the services; in secure mode also the secret store,
        security-proxy-auth, security-secretstore-setup and the stage gates.
        """
        info = self.release
        ports = {"database": info.database.port, "mqtt-broker": info.broker.port, **info.ports}
        if self.credentials is not None:
            ports.update(info.secure_listeners)
        return ports

    @property
    def common_config_path(self) -> str:
        """Where the common configuration ConfigMap is mounted in every EdgeX container."""
        return COMMON_CONFIG_PATH

    def mqtt(self) -> MqttWatcher:
        """A new MQTT watcher connected through the gateway's MQTT route (use it as a context manager)."""
        return mqtt_watcher(self.endpoints, self.credentials)


def mqtt_watcher(
    endpoints: Endpoints, credentials: secure.Credentials | None, client_id_prefix: str = "edgex-smoke"
) -> MqttWatcher:
    """An MQTT client for the gateway's MQTT route; in secure mode with TLS and the broker's credentials."""
    if credentials is None:
        return MqttWatcher(endpoints.mqtt_host, endpoints.mqtt_port, client_id_prefix=client_id_prefix)
    return MqttWatcher(
        endpoints.mqtt_host,
        endpoints.mqtt_port,
        client_id_prefix=client_id_prefix,
        username=credentials.bus_username,
        password=credentials.bus_password,
        ca_path=str(credentials.ca_path),
        server_name=credentials.server_name,
    )


def gateway_client(endpoints: Endpoints, credentials: secure.Credentials | None) -> GatewayClient:
    """The REST client of the gateway; in secure mode over TLS, verified with the deployment's CA, with the JWT."""
    if credentials is None:
        return GatewayClient(endpoints.gateway_url)
    return GatewayClient(
        secure_url(endpoints),
        verify=str(credentials.ca_path),
        token=credentials.jwt,
        server_name=credentials.server_name,
    )


def secure_url(endpoints: Endpoints) -> str:
    """The gateway's URL over TLS: the same address and port, ``https``."""
    return "https://" + endpoints.gateway_url.split("://", 1)[-1]


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
            reuse_name=options.name if options.reuse else None,
        )
        self.name = options.name or instance_name(report.run_id)
        """The EdgeX pod's name: unique per run, so runs on one host never share an object."""
        self.distro = distro or distros.make_distro(options.distro, self.settings)
        self.current_phase: PhaseName | None = None
        self.target: Target | None = None
        self.deployment: Deployment | None = None
        self.diagnostics_dir: Path | None = None
        self.live: LiveEdgeX | None = None

    @contextmanager
    def _phase(self, name: PhaseName) -> Iterator[None]:
        self.current_phase = name
        self.status.phase(name)
        started = time.monotonic()
        try:
            yield
        except BaseException as err:
            # current_phase keeps naming this phase: the report's error and interruption default to it
            verb = "failed" if isinstance(err, Exception) else "interrupted"
            self.status.done(f"{verb} after {time.monotonic() - started:.1f} s")
            raise
        elapsed = time.monotonic() - started
        self.report.record_phase(name, elapsed)
        self.status.done(f"done in {elapsed:.1f} s")
        self.current_phase = None

    # -- start -----------------------------------------------------------------------

    def start(self) -> LiveEdgeX:
        """Run provision, apply and ready, then start the bus observer; raise `SmokeError` on the first failure."""
        with self._phase("provision"):
            objects = self._provision()
        target = self.target
        assert target is not None  # set by _provision
        with self._phase("apply"):
            if self.options.reuse:
                self.deployment = self.distro.find_deployment(target)
                self.status.update(f"attached to {self.deployment.pod}, kept by run {self.deployment.run_id}")
            else:
                labels = ownership_labels(self.report.run_id, keep=self.options.keep) | gateway_port_labels(
                    self.options.gateway_http_port, self.options.gateway_mqtt_port
                )
                self.deployment = self.distro.deploy(target, with_labels(objects, labels))
        deployment = self.deployment
        with self._phase("ready"):
            live = self._wait_ready(target, deployment, objects)
            live.bus.start()
        self.live = live
        if live.bus.failure is not None:
            self.status.update(f"the bus observer did not start: {live.bus.failure}")
        return live

    def first_event_s(self) -> float | None:
        """Seconds from the end of the ready phase to the first fresh EdgeX event the observer saw; None if none.

        It came through the gateway's MQTT route; retained messages, other traffic and events
        produced before the subscription do not count.
        """
        bus = self.live.bus if self.live is not None else None
        first = bus.first(fresh_event(bus.started_ns)) if bus is not None and bus.failure is None else None
        return None if first is None or bus is None else max(first.received_at - bus.started_at, 0.0)

    def _render(self, source: str) -> list[KubeObject]:
        return manifests.render(
            release=self.options.release,
            distro=self.options.distro,
            images=manifests.ImageSource.parse(source),
            security=self.options.security,
            run_id=self.report.run_id,
            gateway_http_port=self.options.gateway_http_port,
            gateway_mqtt_port=self.options.gateway_mqtt_port,
            name=self.name,
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
        release = manifests.release_info(self.options.release)
        order = list(manifests.image_refs(objects)) if objects else []
        watch = _PodWatch(self.distro, target, deployment, release, order, secure=self.options.security == "on")
        services = tuple(service.name for service in release.services)
        self._wait_deployed(watch, services)
        endpoints = self.distro.endpoints(target, deployment)
        credentials = self._credentials(watch, endpoints, services) if self.options.security == "on" else None
        gateway = gateway_client(endpoints, credentials)
        for service, version in self._wait_pings(watch, gateway, services).items():
            self.report.set_version(service, version)
        images = manifests.image_refs(objects) if objects else {}
        digests = self._digests(list(images.values()))
        self.report.set_images(
            {"component": name, "ref": ref, "digest": digests.get(ref), "labels": distros.local_image_labels(ref)}
            for name, ref in images.items()
        )
        bus = BusObserver(mqtt_watcher(endpoints, credentials, "edgex-smoke-bus"))
        return LiveEdgeX(self.distro, target, deployment, endpoints, gateway, release, dict(images), bus, credentials)

    def _credentials(self, watch: _PodWatch, endpoints: Endpoints, services: tuple[str, ...]) -> secure.Credentials:
        """Secure mode: the CA, a proxy user's JWT and the broker's credentials, once the pod can give them.

        While they cannot be had yet, the same rules as the ping wait apply (a sealed secret
        store, a crash loop, a stall end the wait with their diagnosis).
        """
        self.status.update("secure mode: reading the gateway's CA, making the proxy user, getting its JWT")
        not_asked = dict.fromkeys(services, "not asked yet: the secure credentials are not ready")
        last_error: list[ProductError] = []

        def obtain() -> secure.Credentials | None:
            try:
                return secure.obtain(
                    self.distro,
                    watch.target,
                    watch.deployment,
                    gateway=watch.release.gateway_container,
                    gateway_url=secure_url(endpoints),
                    work_dir=self.work_dir,
                )
            except ProductError as err:  # not yet: the pod is still starting, unless the watch says it never will
                last_error[:] = [err]
                stuck = watch.stuck(not_asked, answering=0)
                if stuck is not None:
                    raise DiagnosedError(stuck, f"the secure credentials could not be had ({err})") from err
                return None

        what = "secure EdgeX: the proxy user's JWT through the gateway and the broker's credentials"
        try:
            return wait_for(obtain, timeout_s=self.options.ready_timeout_s, interval_s=1.0, what=what, retry_on=())
        except DiagnosedError:
            raise
        except SmokeError as err:
            shown = str(last_error[0]) if last_error else str(err)
            raise DiagnosedError(watch.blame_silence(not_asked), f"{what} not had: {shown}") from err

    def _wait_deployed(self, watch: _PodWatch, services: tuple[str, ...]) -> None:
        """The target's own wait for running (and, with probes, ready) containers, in slices, watching the pod.

        Between slices the same rules as the ping wait apply, so a start that cannot succeed (a
        service that never opens its port while its probe fails) ends early with its diagnosis.
        """
        deadline = time.monotonic() + self.options.ready_timeout_s
        not_asked = dict.fromkeys(services, "not asked yet: containers not ready")
        while True:
            left = deadline - time.monotonic()
            try:
                self.distro.wait_deployed(watch.target, watch.deployment, timeout_s=max(min(left, DEPLOY_SLICE_S), 1.0))
                return
            except ReadinessTimeoutError as err:
                crashed = watch.blame_containers()
                if crashed is not None and (isinstance(err, ReadinessBlockedError) or time.monotonic() >= deadline):
                    raise DiagnosedError(crashed, "see its log in the diagnostics") from err
                if isinstance(err, ReadinessBlockedError) or time.monotonic() >= deadline:
                    raise  # no container crashed: the target's own reason (an image it cannot get, …) stands
                stuck = watch.stuck(not_asked, answering=0)
                if stuck is not None:
                    raise DiagnosedError(stuck, "see its log in the diagnostics") from err

    def _digests(self, refs: list[str]) -> dict[str, str | None]:
        return dict(self.distro.image_digests(refs))

    def _wait_pings(self, watch: _PodWatch, gateway: GatewayClient, services: tuple[str, ...]) -> dict[str, str]:
        """Wait until every service answers ping and version through the gateway for `SETTLE_S`; return the versions.

        A container that crash-loops ends the wait at once, naming it.
        """
        started = time.monotonic()
        silent: dict[str, str] = dict.fromkeys(services, "not asked yet")
        versions: dict[str, str] = {}
        all_answering_since: list[float] = []

        def all_answer() -> bool:
            for service in services:
                problem = _ping_problem(gateway, service)
                if problem is None and service not in versions:
                    try:
                        versions[service] = gateway.version(service)
                    except SmokeError as err:
                        problem = str(err)
                if problem is None:
                    silent.pop(service, None)
                else:
                    silent[service] = problem
            answering = len(services) - len(silent)
            self.status.update(
                f"waiting for {answering}/{len(services)} services to answer ping through the gateway "
                f"({time.monotonic() - started:.0f} s)"
            )
            if silent:
                all_answering_since.clear()
                stuck = watch.stuck(silent, answering)
                if stuck is not None:
                    raise DiagnosedError(stuck, "see its log in the diagnostics")
                return False
            all_answering_since[:] = all_answering_since or [time.monotonic()]
            return time.monotonic() - all_answering_since[0] >= SETTLE_S

        try:
            wait_for(
                all_answer,
                timeout_s=self.options.ready_timeout_s,
                interval_s=PING_POLL_S,
                what=f"gateway: /api/v3/ping at {gateway.base_url}",
                error=ProductError,
            )
        except DiagnosedError:
            raise
        except ProductError as err:
            cause = watch.blame_silence(silent)
            answered = f"{len(services) - len(silent)}/{len(services)} answered"
            raise DiagnosedError(
                cause,
                f"{', '.join(silent)} did not answer /api/v3/ping through the gateway within "
                f"{self.options.ready_timeout_s:g} s ({answered}); see the diagnostics",
            ) from err
        return versions

    # -- finish ----------------------------------------------------------------------

    def finish(self, *, failed: bool) -> None:
        """Record the first event, save diagnostics if anything failed, and remove what the run created.

        With ``--keep`` the target and the pod stay.
        """
        if self.live is not None:
            first_event_s = self.first_event_s()
            if first_event_s is not None:
                self.report.record_phase("first_event", first_event_s)
            self.live.bus.close()
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


NOT_CREATED = "pending"
"""A container's state while its node has not reported it at all (`distros._kube.container_states_of`)."""


def _starting(state: ContainerState) -> bool:
    """True while the target is still making the container (pulling its image): slow, but not stuck."""
    return state.state in ("pending", "created", "configured") or any(
        reason in state.state for reason in ("ContainerCreating", "PodInitializing")
    )


def _ping_problem(gateway: GatewayClient, service: str) -> str | None:
    """None if `service` answers ping through the gateway (under any name: check b judges misroutes), else why not."""
    try:
        gateway.ping(service)
    except SmokeError as err:
        return str(err)
    return None


class _PodWatch:
    """The pod's containers while the run waits for them: crash loops end the wait, failures get a culprit."""

    def __init__(
        self,
        distro: Distro,
        target: Target,
        deployment: Deployment,
        release: manifests.ReleaseInfo,
        order: list[str],
        *,
        secure: bool = False,
    ) -> None:
        self.distro = distro
        self.target = target
        self.deployment = deployment
        self.release = release
        self.order = order
        self.secure = secure
        self._down_since: dict[str, float] = {}
        self._last_poll = 0.0
        self._progress: tuple[object, ...] = ()
        self._progressed_at = time.monotonic()

    def states(self) -> list[ContainerState]:
        """Every container's state, in the pod's start order; [] if the target cannot tell."""
        try:
            states = self.distro.containers(self.target, self.deployment)
        except SmokeError as err:
            log.info("cannot read the containers' states: %s", err)
            return []
        rank = {name: index for index, name in enumerate(self.order)}
        return sorted(states, key=lambda s: rank.get(s.name, len(rank)))

    def stuck(self, silent: Mapping[str, str], answering: int) -> RootCause | None:
        """A culprit once the start cannot succeed any more; None while it still may.

        Looked at every `CONTAINER_POLL_S`: a container restarted `CRASH_LOOP_RESTARTS` times, one
        down for `RECOVERY_S`, or nothing changed for `STALL_S` (no new service answering, no
        port opening, no container changing state) while services are still silent. In secure
        mode, first: a secret store sealed after its setup finished.
        """
        now = time.monotonic()
        if now - self._last_poll < CONTAINER_POLL_S:
            return None
        self._last_poll = now
        states = self.states()
        listening = self._listening()
        sealed = self._sealed_store(listening)
        if sealed is not None:
            return sealed
        for state in states:
            # "pending": the node never reported the container, so it never ran and cannot have stopped.
            if state.state in ("running", NOT_CREATED):
                self._down_since.pop(state.name, None)
            else:
                self._down_since.setdefault(state.name, now)
        progress = (
            answering,
            frozenset(listening or ()),
            tuple((s.name, s.state, s.ready, s.restarts) for s in states),
        )
        if progress != self._progress:
            self._progress, self._progressed_at = progress, now
        looping = [s.name for s in states if s.restarts >= CRASH_LOOP_RESTARTS]
        down = [name for name, since in self._down_since.items() if now - since >= RECOVERY_S]
        if looping or down:
            cause = diagnosis.blame_containers(states, self._logs, listening, self.release)
            return cause or RootCause((looping or down)[0], "stopped and did not recover")
        return self._stalled(states, listening, silent, now)

    def _stalled(
        self, states: list[ContainerState], listening: set[int] | None, silent: Mapping[str, str], now: float
    ) -> RootCause | None:
        """A culprit when nothing was created, or nothing changed, for too long; None otherwise."""
        if states and all(s.state == NOT_CREATED for s in states):
            if now - self._progressed_at < NOT_CREATED_S:
                return None  # the node has not started the pod: a driver that watches its node names it first
            return RootCause(
                "target",
                f"no container of the pod was created on its node within {NOT_CREATED_S:g} s: the node's agent "
                "(kubelet, edgecore) is not starting it",
            )
        if now - self._progressed_at >= STALL_S:
            return self._blame_silence(states, listening, silent)
        return None

    def blame_containers(self) -> RootCause | None:
        """Rule 1 of `diagnosis`: a container that exited or restarted, or the dependency it names."""
        return self._blame(self.states())

    def blame_silence(self, silent: Mapping[str, str]) -> RootCause:
        """Rules 1 to 3 of `diagnosis` for services that never answered ping."""
        return self._blame_silence(self.states(), self._listening(), silent)

    def _blame_silence(
        self, states: list[ContainerState], listening: set[int] | None, silent: Mapping[str, str]
    ) -> RootCause:
        rank = {name: index for index, name in enumerate(self.order)}
        in_start_order = dict(sorted(silent.items(), key=lambda item: rank.get(item[0], len(rank))))
        cause = self._sealed_store(listening) or diagnosis.blame_containers(states, self._logs, listening, self.release)
        cause = cause or diagnosis.blame_silence(
            in_start_order, listening, self.release, self._logs, secure=self.secure
        )
        return cause or RootCause("target", "the services did not answer and no container shows why")

    def _blame(self, states: list[ContainerState]) -> RootCause | None:
        listening = self._listening()
        return self._sealed_store(listening) or diagnosis.blame_containers(states, self._logs, listening, self.release)

    def _sealed_store(self, listening: set[int] | None) -> RootCause | None:
        """Secure mode: the secret store sealed after its setup finished; asked only once the setup's gate is open."""
        store = self.release.secret_store
        gate = self.release.secure_listeners.get(diagnosis.TOKENS_READY_GATE)
        if not self.secure or store is None or listening is None or gate not in listening:
            return None
        try:
            host = self.distro.container_host(self.target, self.deployment, store.container)
            status = host.run(diagnosis.SECRET_STORE_STATUS.format(port=store.port)).stdout
        except Exception as err:  # testinfra raises its own errors, and any failure only weakens the diagnosis
            log.info("cannot read the secret store's seal status: %s", err)
            return None
        return diagnosis.blame_sealed_store(str(status), listening, self.release)

    def _logs(self, container: str) -> str:
        return self.distro.logs(self.target, self.deployment, container, tail_lines=diagnosis.LOG_LINES)

    def _listening(self) -> set[int] | None:
        """Ports listening in the pod's network namespace, read in the gateway container; None if unreadable."""
        try:
            host = self.distro.container_host(self.target, self.deployment, self.release.gateway_container)
            text = "".join(host.file(path).content_string for path in ("/proc/net/tcp", "/proc/net/tcp6"))
        except Exception as err:  # testinfra raises its own errors, and any failure only weakens the diagnosis
            log.info("cannot read the pod's listening ports: %s", err)
            return None
        return diagnosis.listening_ports(text)
