"""Which component to blame when EdgeX does not come up, from what the pod shows.

Pure functions over what the lifecycle gathers: the containers' states, the last lines of
their logs, the ports listening in the pod's network namespace (``/proc/net/tcp``) and what
the gateway answered for each service that stayed silent. No pytest, no driver.

The rules, in order:

1. A container that exited or restarted is the first suspect, taken in the pod's start order
   (database and broker before the services that need them). If its last meaningful log line
   names a dependency (by port, ``tcp:1883``, or by name) and nothing listens on that
   dependency's port, the dependency is blamed; otherwise the container itself.
2. With every container running, a service the gateway cannot reach is blamed on itself when
   nothing listens on its port, and on the gateway's route when something does.
3. The gateway refusing connections blames the gateway.

Secure mode (``--security on``) adds one rule before these: a secret store that is sealed after
security-secretstore-setup opened its "tokens ready" gate stays sealed (nothing unseals it
again), so it is blamed at once. And the infrastructure every service waits for then also
includes the secret store and, for the gateway's ``auth_request``, security-proxy-auth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence

from distros import ContainerState
from harness.errors import RootCause
from manifests import Endpoint, ReleaseInfo

LOG_LINES = 200
"""How many lines of a container's log the diagnosis reads."""

EVIDENCE_CHARS = 240

_MEANINGFUL = (
    re.compile(r"level=(ERROR|FATAL|PANIC)\b"),  # EdgeX services (logfmt)
    re.compile(r"\b(FATAL|PANIC):"),  # PostgreSQL
    re.compile(r"\[(emerg|alert|crit)\]"),  # NGINX
    re.compile(r"^wait-for: .*(not up after|unknown dependency)"),  # the pod's start script giving up
    re.compile(r"^panic: "),  # Go runtime
    re.compile(r"\bError: "),  # mosquitto
    re.compile(r": not found$|No such file or directory"),  # a missing executable (sh, exec)
)
_TRANSIENT = re.compile(r"the database system is (starting up|shutting down)|SQLSTATE 57P03")
"""Errors of a moment during PostgreSQL's own start, which a service retries past: never the reason it failed."""
_WARNING = re.compile(r"level=WARN\b")
_LOGFMT_MSG = re.compile(r'\bmsg="((?:[^"\\]|\\.)*)"')
_PORT = re.compile(r"(?:tcp:|127\.0\.0\.1:|localhost:|\[::1\]:|port )(\d{2,5})\b")
_PROC_NET_LISTEN = re.compile(r"^\s*\d+: [0-9A-F]+:([0-9A-F]{4}) [0-9A-F]+:[0-9A-F]{4} 0A ", re.MULTILINE)
_NAMES = {
    "database": ("postgres", "database", "pgx", "sql"),
    "mqtt-broker": ("mqtt", "message bus", "messagebus", "broker"),
}
TOKENS_READY_GATE = "tokens-ready-gate"
"""The secure listener security-secretstore-setup opens once OpenBao is unsealed and every token written."""
SECRET_STORE_STATUS = "bao status -format=json -address=http://127.0.0.1:{port}"  # noqa: S105 - a command
"""Run in the secret-store container: OpenBao's seal status, which needs no token."""


def listening_ports(proc_net: str) -> set[int]:
    """Ports in LISTEN state, from the text of ``/proc/net/tcp`` and ``/proc/net/tcp6``."""
    return {int(port, 16) for port in _PROC_NET_LISTEN.findall(proc_net)}


def meaningful_line(log: str) -> str | None:
    """The last line of `log` that says what went wrong (an EdgeX ERROR, a postgres FATAL, an nginx [emerg]).

    An EdgeX WARN line counts only when there is no such line: services log a dependency they
    keep retrying (a database that refuses them) as WARN. PostgreSQL's "the database system is
    starting up" never counts, in its own log or a service's: it passes as PostgreSQL starts.
    """
    lines = [line.strip() for line in log.splitlines() if line.strip() and not _TRANSIENT.search(line)]
    for patterns in (_MEANINGFUL, (_WARNING,)):
        for text in reversed(lines):
            if any(pattern.search(text) for pattern in patterns):
                return _shown(text)
    return None


def _shown(text: str) -> str:
    message = _LOGFMT_MSG.search(text)
    shown = message[1].replace('\\"', '"') if message else text
    shown = " ".join(shown.replace("\\n", " ").replace("\\t", " ").split())
    return shown if len(shown) <= EVIDENCE_CHARS else shown[: EVIDENCE_CHARS - 1] + "…"


def named_dependency(line: str, release: ReleaseInfo, *, own: str) -> tuple[str, int] | None:
    """The other container (and its port) that `line` says is missing, or None."""
    owners = release.port_owners
    for port_text in _PORT.findall(line):
        owner = owners.get(int(port_text))
        if owner is not None and owner != own:
            return owner, int(port_text)
    lowered = line.lower()
    ports = {owner: port for port, owner in owners.items()}
    for owner, words in _NAMES.items():
        if owner != own and any(word in lowered for word in words):
            return owner, ports[owner]
    for service in release.services:
        if service.container != own and service.name in lowered:
            return service.container, service.port
    return None


def _state_summary(state: ContainerState) -> str:
    parts = [state.state]
    if state.exit_code is not None:
        parts.append(f"exit code {state.exit_code}")
    parts.append(f"{state.restarts} restart(s)")
    return ", ".join(parts)


def _blame_dependency(
    name: str, line: str, listening: set[int] | None, release: ReleaseInfo, logs_of: Callable[[str], str], *, what: str
) -> RootCause | None:
    """The dependency `name`'s last error `line` names, when that dependency is the one to blame; else None.

    Blamed when nothing listens on its port, or when it listens and its own log says what it refused.
    """
    dependency = named_dependency(line, release, own=name)
    if dependency is None or listening is None:
        return None
    owner, port = dependency
    evidence = f"{name}: {line}"
    if port not in listening:
        return RootCause(owner, f"nothing listens on its port {port}, so {name} {what}", (evidence,))
    refusal = meaningful_line(logs_of(owner))
    if refusal is not None:
        return RootCause(owner, f"refuses {name}, so {name} {what}", (f"{owner}: {refusal}", evidence))
    return None


def is_troubled(state: ContainerState) -> bool:
    """True if the container restarted or stopped; one that runs but is not ready yet is not (rule 2 looks at it)."""
    stopped = state.state in ("exited", "stopped", "dead") or state.state.startswith("terminated")
    return state.restarts > 0 or stopped or state.exit_code not in (None, 0)


def blame_containers(
    states: Sequence[ContainerState],
    logs_of: Callable[[str], str],
    listening: set[int] | None,
    release: ReleaseInfo,
) -> RootCause | None:
    """Rule 1: the first troubled container in start order, or the dependency its last words name."""
    for state in states:
        if not is_troubled(state):
            continue
        line = meaningful_line(logs_of(state.name))
        if line is None:
            evidence = f"no error line in its last {LOG_LINES} log lines"
            return RootCause(state.name, _state_summary(state), (evidence,))
        what = f"cannot start ({_state_summary(state)})"
        blamed = _blame_dependency(state.name, line, listening, release, logs_of, what=what)
        return blamed or RootCause(state.name, _state_summary(state), (f"last error: {line}",))
    return None


def _infrastructure(release: ReleaseInfo, *, secure: bool) -> list[tuple[Endpoint, str]]:
    """What the services need before they answer, in the order to blame it, with what its absence does."""
    waits = "service(s) wait for it"
    needed = [(release.database, waits), (release.broker, waits)]
    if secure and release.secret_store is not None:
        needed.insert(0, (release.secret_store, "service(s) wait for their tokens from it"))
    if secure and release.proxy_auth is not None:
        asks = "service(s) unreachable: the gateway's auth_request asks it about every call"
        needed.append((release.proxy_auth, asks))
    return needed


def _blame_infrastructure(
    waiting: int, listening: set[int] | None, release: ReleaseInfo, logs_of: Callable[[str], str], *, secure: bool
) -> RootCause | None:
    """The first piece of infrastructure nothing listens for: every service needs all of it."""
    if listening is None:
        return None
    for infra, consequence in _infrastructure(release, secure=secure):
        if infra.port not in listening:
            line = meaningful_line(logs_of(infra.container))
            evidence = f"last error: {line}" if line else f"its log shows no error; {waiting} {consequence}"
            return RootCause(infra.container, f"nothing listens on its port {infra.port}", (evidence,))
    return None


def sealed_store(status: str) -> str | None:
    """What `SECRET_STORE_STATUS` printed, summed up when it says the store is initialised and sealed; else None."""
    try:
        facts = json.loads(status)
    except ValueError:
        return None
    if not isinstance(facts, dict) or facts.get("sealed") is not True or facts.get("initialized") is not True:
        return None
    progress, threshold = facts.get("progress", "?"), facts.get("t", "?")
    return f"bao status: initialized, sealed, unseal progress {progress} of {threshold} keys"


def blame_sealed_store(status: str | None, listening: set[int] | None, release: ReleaseInfo) -> RootCause | None:
    """Secure mode's first rule: a secret store sealed after its setup's gate opened; nothing unseals it again.

    Before the gate opens, a sealed store is simply not unsealed yet.
    """
    gate = release.secure_listeners.get(TOKENS_READY_GATE)
    store = release.secret_store
    summary = sealed_store(status) if status is not None else None
    if summary is None or store is None or gate is None or listening is None or gate not in listening:
        return None
    return RootCause(
        store.container,
        f"is sealed although security-secretstore-setup unsealed it and opened its gate (port {gate}); "
        "nothing unseals it again, so no service can read its token or secrets",
        (summary,),
    )


def _blame_closed_service(
    service: str, port: int, listening: set[int], release: ReleaseInfo, logs_of: Callable[[str], str]
) -> RootCause:
    """A service that does not listen on its port: blamed itself, unless its last error names a dependency to blame."""
    line = meaningful_line(logs_of(service))
    blamed = _blame_dependency(service, line, listening, release, logs_of, what="does not start") if line else None
    if blamed is not None:
        return blamed
    shown = ", ".join(str(p) for p in sorted(listening)) or "nothing"
    evidence = [f"last error: {line}"] if line else []
    evidence.append(f"listening in the pod: {shown}")
    return RootCause(
        service, f"nothing listens on its port {port}, so the gateway cannot reach /{service}/", tuple(evidence)
    )


def blame_silence(
    silent: Mapping[str, str],
    listening: set[int] | None,
    release: ReleaseInfo,
    logs_of: Callable[[str], str],
    *,
    secure: bool = False,
) -> RootCause | None:
    """Rules 2 and 3: why the gateway could not reach the services in `silent` (service → last ping error).

    The infrastructure comes first (the database and the broker; in secure mode also the secret
    store and security-proxy-auth): every service needs it. Then the services in start order
    (`silent`'s order), so a service is blamed before those that wait for it.
    """
    if not silent:
        return None
    if all("connection refused at" in error for error in silent.values()):
        return RootCause(
            release.gateway_container,
            "does not accept connections on its published port",
            (next(iter(silent.values())),),
        )
    infrastructure = _blame_infrastructure(len(silent), listening, release, logs_of, secure=secure)
    if infrastructure is not None:
        return infrastructure
    ports = release.ports
    for service, error in silent.items():
        port = ports[service]
        if listening is not None and port not in listening:
            return _blame_closed_service(service, port, listening, release, logs_of)
        if listening is not None and re.search(r"answered 50[234]", error):
            return RootCause(
                release.gateway_container,
                f"its route /{service}/ does not reach {service}, which listens on port {port}",
                (error,),
            )
    service, error = next(iter(silent.items()))
    return RootCause(service, "does not answer /api/v3/ping through the gateway", (error,))
