"""The rules that blame one component, on logs and states shaped like real EdgeX 4.0's.

The fault suite (tests/test_faults.py) proves them on real EdgeX; these pin each rule down.
"""

from __future__ import annotations

import pytest

import manifests
from distros import ContainerState
from edgex_smoke import diagnosis

RELEASE = manifests.release_info("4.0")
ALL_PORTS = {5432, 1883, 59880, 59881, 59882, 59900, 59986, 59982, 8000, 1884}

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000    70        0 1 1 0 100 0 0 10 0
   1: 0100007F:075B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0100007F:E9E8 0100007F:1538 01 00000000:00000000 00:00000000 00000000  2002        0 3 1 0 20 4 30 10 -1
"""
EDGEX_ERROR = (
    'level=ERROR ts=2026-12-01T17:00:01.1Z app=core-data source=database.go:80 msg="failed to connect to '
    "`host=localhost user=postgres database=edgex_db`: dial error "
    '(dial tcp 127.0.0.1:5432: connect: connection refused)"'
)


def _state(name: str, *, restarts: int = 0, running: bool = True, exit_code: int | None = None) -> ContainerState:
    return ContainerState(
        name=name, state="running" if running else "exited", ready=running, restarts=restarts, exit_code=exit_code
    )


def _healthy() -> list[ContainerState]:
    return [_state(name) for name in ("database", "mqtt-broker", "core-metadata", "core-data", "gateway")]


def test_listening_ports_are_the_listen_rows_of_proc_net_tcp() -> None:
    assert diagnosis.listening_ports(PROC_NET_TCP) == {5432, 1883}


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (f"level=INFO msg=starting\n{EDGEX_ERROR}\nlevel=INFO msg=retrying", EDGEX_ERROR.split('msg="')[1][:-1]),
        (
            'LOG:  starting\nFATAL:  password authentication failed for user "postgres"\n',
            'FATAL: password authentication failed for user "postgres"',
        ),
        (
            'nginx: [emerg] unknown directive "lisen" in /etc/edgex-smoke/gateway/nginx.conf:12',
            'nginx: [emerg] unknown directive "lisen" in /etc/edgex-smoke/gateway/nginx.conf:12',
        ),
        (
            "wait-for: tcp:1883 is not up after 60 s; not starting /core-metadata",
            "wait-for: tcp:1883 is not up after 60 s; not starting /core-metadata",
        ),
        ("level=INFO msg=fine\nlevel=DEBUG msg=also fine", None),
    ],
)
def test_the_meaningful_line_is_the_last_error_line(log: str, expected: str | None) -> None:
    assert diagnosis.meaningful_line(log) == expected


def test_a_crashing_service_whose_dependency_listens_is_blamed_itself() -> None:
    states = _healthy()
    states[3] = _state("core-data", restarts=2, running=False, exit_code=1)
    cause = diagnosis.blame_containers(
        states, lambda name: EDGEX_ERROR if name == "core-data" else "", ALL_PORTS, RELEASE
    )
    assert cause is not None
    assert cause.component == "core-data"
    assert cause.problem == "exited, exit code 1, 2 restart(s)"
    assert cause.evidence[0].startswith("last error: failed to connect to `host=localhost user=postgres")


def test_a_crashing_service_whose_dependency_is_silent_blames_the_dependency() -> None:
    states = _healthy()
    states[2] = _state("core-metadata", restarts=1, exit_code=1, running=False)
    line = "wait-for: tcp:1883 is not up after 60 s; not starting /core-metadata"
    cause = diagnosis.blame_containers(states, lambda _: line, ALL_PORTS - {1883}, RELEASE)
    assert cause is not None
    assert cause.component == "mqtt-broker"
    assert cause.problem.startswith("nothing listens on its port 1883, so core-metadata cannot start")
    assert cause.evidence == (f"core-metadata: {line}",)


def test_the_first_troubled_container_in_start_order_is_the_suspect() -> None:
    states = _healthy()
    states[0] = _state("database", restarts=2, running=False, exit_code=1)
    states[3] = _state("core-data", restarts=2, running=False, exit_code=1)
    cause = diagnosis.blame_containers(states, lambda _: "FATAL:  data directory has wrong ownership", None, RELEASE)
    assert cause is not None and cause.component == "database"


def test_a_service_refused_by_a_listening_database_blames_the_database() -> None:
    logs = {
        "core-metadata": 'level=WARN msg="couldn\'t create database client: FATAL: password authentication failed"',
        "database": 'FATAL:  password authentication failed for user "postgres"',
    }
    silent = {"core-metadata": "core-metadata: GET /core-metadata/api/v3/ping answered 502 Bad Gateway: …"}
    cause = diagnosis.blame_silence(silent, ALL_PORTS - {59881}, RELEASE, lambda name: logs.get(name, ""))
    assert cause is not None
    assert (cause.component, cause.problem) == ("database", "refuses core-metadata, so core-metadata does not start")
    assert cause.evidence[0] == 'database: FATAL: password authentication failed for user "postgres"'


def test_a_warning_counts_only_without_an_error_and_loses_its_escapes() -> None:
    retrying = 'level=WARN msg="failed to connect:\\n\\t127.0.0.1:5433: connection refused"'
    assert (
        diagnosis.meaningful_line(f"level=INFO msg=a\n{retrying}")
        == "failed to connect: 127.0.0.1:5433: connection refused"
    )
    assert str(diagnosis.meaningful_line(f"{EDGEX_ERROR}\n{retrying}")).startswith("failed to connect to `host=")


def test_healthy_containers_blame_nobody() -> None:
    assert diagnosis.blame_containers(_healthy(), lambda _: EDGEX_ERROR, ALL_PORTS, RELEASE) is None


def test_a_service_not_listening_on_its_port_is_blamed_for_the_gateways_502() -> None:
    silent = {"core-metadata": "core-metadata: GET /core-metadata/api/v3/ping answered 502 Bad Gateway: …"}
    listening = (ALL_PORTS - {59881}) | {59999}
    cause = diagnosis.blame_silence(silent, listening, RELEASE, lambda _: "")
    assert cause is not None
    assert cause.component == "core-metadata"
    assert cause.problem == "nothing listens on its port 59881, so the gateway cannot reach /core-metadata/"
    assert "59999" in cause.evidence[-1]


def test_a_502_for_a_listening_service_blames_the_gateways_route() -> None:
    silent = {"device-rest": "device-rest: GET /device-rest/api/v3/ping answered 502 Bad Gateway: …"}
    cause = diagnosis.blame_silence(silent, ALL_PORTS, RELEASE, lambda _: "")
    assert cause is not None
    assert cause.component == "gateway"
    assert cause.problem == "its route /device-rest/ does not reach device-rest, which listens on port 59986"


def test_a_gateway_that_refuses_connections_is_blamed() -> None:
    refused = "gateway: GET /{0}/api/v3/ping failed: connection refused at http://127.0.0.1:8000; is the pod running"
    silent = {name: refused.format(name) for name in RELEASE.ports}
    cause = diagnosis.blame_silence(silent, None, RELEASE, lambda _: "")
    assert cause is not None
    assert (cause.component, cause.problem) == ("gateway", "does not accept connections on its published port")


SEALED = '{"type": "shamir", "initialized": true, "sealed": true, "t": 3, "n": 5, "progress": 0, "version": "2.4.4"}'
UNSEALED = '{"type": "shamir", "initialized": true, "sealed": false, "t": 3, "n": 5, "progress": 0}'
TOKENS_READY = 54322


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SEALED, "bao status: initialized, sealed, unseal progress 0 of 3 keys"),
        (UNSEALED, None),
        ('{"initialized": false, "sealed": true}', None),  # not initialised yet: secretstore-setup's work to come
        ("Error checking seal status: connection refused", None),
        ("[]", None),
    ],
)
def test_only_an_initialised_and_sealed_store_reads_as_sealed(status: str, expected: str | None) -> None:
    assert diagnosis.sealed_store(status) == expected


def test_a_store_sealed_after_its_setup_opened_the_gate_is_blamed() -> None:
    cause = diagnosis.blame_sealed_store(SEALED, ALL_PORTS | {8200, TOKENS_READY}, RELEASE)
    assert cause is not None
    assert cause.component == "secret-store"
    assert cause.problem.startswith("is sealed although security-secretstore-setup unsealed it")
    assert cause.evidence == ("bao status: initialized, sealed, unseal progress 0 of 3 keys",)


def test_a_store_sealed_before_its_setup_finished_is_not_blamed_yet() -> None:
    assert diagnosis.blame_sealed_store(SEALED, ALL_PORTS | {8200}, RELEASE) is None
    assert diagnosis.blame_sealed_store(SEALED, None, RELEASE) is None
    assert diagnosis.blame_sealed_store(UNSEALED, ALL_PORTS | {8200, TOKENS_READY}, RELEASE) is None


def test_secure_mode_blames_a_proxy_auth_that_does_not_listen_for_the_gateways_500() -> None:
    silent = {name: f"{name}: GET /{name}/api/v3/ping answered 500 Internal Server Error" for name in RELEASE.ports}
    listening = ALL_PORTS | {8200, TOKENS_READY}
    cause = diagnosis.blame_silence(silent, listening, RELEASE, lambda _: "", secure=True)
    assert cause is not None
    assert (cause.component, cause.problem) == ("security-proxy-auth", "nothing listens on its port 59842")
    assert "auth_request" in cause.evidence[0]
    without_security = diagnosis.blame_silence(silent, listening, RELEASE, lambda _: "")
    assert without_security is not None and without_security.component != "security-proxy-auth"


def test_secure_mode_blames_a_silent_secret_store_before_the_database() -> None:
    silent = dict.fromkeys(RELEASE.ports, "not asked yet")
    cause = diagnosis.blame_silence(silent, ALL_PORTS - {5432}, RELEASE, lambda _: "", secure=True)
    assert cause is not None
    assert (cause.component, cause.problem) == ("secret-store", "nothing listens on its port 8200")


def test_a_service_naming_the_secret_stores_port_blames_it_when_it_is_silent() -> None:
    line = 'level=ERROR msg="could not get token: dial tcp 127.0.0.1:8200: connect: connection refused"'
    assert diagnosis.named_dependency(line, RELEASE, own="core-data") == ("secret-store", 8200)


def test_a_database_that_was_starting_up_when_a_service_first_asked_is_not_blamed() -> None:
    """Seen in CI: core-metadata met PostgreSQL starting up, retried, then listened on its wrong port."""
    starting = "FATAL: the database system is starting up"
    logs = {
        "core-metadata": (
            "level=ERROR ts=2026-12-02T08:09:33Z app=core-metadata msg=\"couldn't create database client: "
            "postgres client creation failed -> failed to acquire a connection from database connection pool: "
            f'{starting} (SQLSTATE 57P03)"\n'
            'level=INFO ts=2026-12-02T08:09:35Z app=core-metadata msg="Web server starting (127.0.0.1:59999)"'
        ),
        "database": f"2026-12-02 08:09:33.488 UTC [41] {starting}\n2026-12-02 08:09:34 UTC LOG:  ready",
    }
    silent = {"core-metadata": "core-metadata: GET /core-metadata/api/v3/ping answered 502 Bad Gateway: …"}
    listening = (ALL_PORTS - {59881}) | {59999}
    cause = diagnosis.blame_silence(silent, listening, RELEASE, lambda name: logs.get(name, ""))
    assert cause is not None
    assert cause.component == "core-metadata"
    assert cause.problem == "nothing listens on its port 59881, so the gateway cannot reach /core-metadata/"
    assert diagnosis.meaningful_line(logs["database"]) is None
