"""Secure-mode paths: broker credentials, TLS with a given CA bundle, for MQTT and the gateway."""

from __future__ import annotations

import getpass
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgex_client import GatewayClient, MqttWatcher
from harness import proc
from harness.errors import BrokerError, GatewayError, PreflightError
from tests import _servers
from tests._doubles import EdgeXGatewayDouble

USER = "edgex-smoke"
PASSWORD = "bus-password-not-for-logs"


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path


def _openssl(*args: str | Path) -> None:
    proc.run(["openssl", *map(str, args)], timeout_s=30, package="openssl")


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "1", "-subj", f"/CN=edgex-smoke {name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = _make_ca(directory, "test-ca")
    other_ca, _ = _make_ca(directory, "other-ca")
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "1", "-extfile", extensions,
    )  # fmt: skip
    return Pki(ca=ca, other_ca=other_ca, cert=cert, key=key)


@contextmanager
def _mosquitto_with(workdir: Path, settings: str) -> Iterator[int]:
    """A real mosquitto whose listener takes extra `settings` (auth, TLS); yields its port.

    `_servers.mosquitto` has a fixed anonymous configuration; this reuses its parts.
    """
    port = _servers.free_port()
    conf = workdir / "mosquitto.conf"
    # Run as root it would switch to user mosquitto and could no longer read files under tmp_path.
    conf.write_text(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\npersistence false\n{settings}")
    log = workdir / "mosquitto.log"
    process = proc.start([proc.which("mosquitto", package="mosquitto"), "-c", str(conf)], log_path=log)
    try:
        _servers.wait_for_port(port, what="mosquitto", process=process, log=log)
        yield port
    finally:
        proc.stop(process)


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[int]:
    passwords = tmp_path / "passwords"
    proc.run(
        [proc.which("mosquitto_passwd", package="mosquitto"), "-b", "-c", str(passwords), USER, PASSWORD],
        timeout_s=30,
    )
    with _mosquitto_with(tmp_path, f"allow_anonymous false\npassword_file {passwords}\n") as port:
        yield port


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[int]:
    settings = f"allow_anonymous true\ncafile {pki.ca}\ncertfile {pki.cert}\nkeyfile {pki.key}\n"
    with _mosquitto_with(tmp_path, settings) as port:
        yield port


# -- broker credentials ----------------------------------------------------------------------------


def test_mqtt_watcher_with_credentials_round_trips(password_broker: int) -> None:
    with MqttWatcher("127.0.0.1", password_broker, username=USER, password=PASSWORD) as watcher:
        watcher.subscribe("edgex/events/#")
        watcher.publish("edgex/events/device/device-virtual/D/D/S", b"{}")
        message = watcher.expect(lambda m: True, timeout_s=5, what="own message")
    assert message.payload == b"{}"


@pytest.mark.parametrize(("username", "password"), [(USER, "wrong-password"), (None, None)])
def test_mqtt_watcher_refused_credentials_are_a_one_line_broker_error(
    password_broker: int, username: str | None, password: str | None
) -> None:
    watcher = MqttWatcher("127.0.0.1", password_broker, username=username, password=password, connect_timeout_s=5)
    with pytest.raises(BrokerError) as caught:
        watcher.connect()
    message = str(caught.value)
    assert message.startswith(f"mqtt broker 127.0.0.1:{password_broker} refused client {watcher.client_id}: ")
    assert "Not authorized" in message
    assert "check username and password" in message
    assert "wrong-password" not in message and PASSWORD not in message
    assert "\n" not in message


# -- MQTT over TLS ---------------------------------------------------------------------------------


def test_mqtt_watcher_verifies_the_broker_with_the_given_ca(tls_broker: int, pki: Pki) -> None:
    with MqttWatcher("127.0.0.1", tls_broker, ca_path=str(pki.ca)) as watcher:
        watcher.subscribe("edgex/events/#")
        watcher.publish("edgex/events/x", b"over tls")
        message = watcher.expect(lambda m: True, timeout_s=5, what="own message over TLS")
    assert message.payload == b"over tls"


def test_mqtt_watcher_rejects_a_broker_signed_by_another_ca(tls_broker: int, pki: Pki) -> None:
    watcher = MqttWatcher("127.0.0.1", tls_broker, ca_path=str(pki.other_ca), connect_timeout_s=5)
    with pytest.raises(BrokerError) as caught:
        watcher.connect()
    message = str(caught.value)
    assert message.startswith(f"mqtt broker 127.0.0.1:{tls_broker}: TLS handshake failed (")
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert message.endswith("pass ca_path=<the CA that signed the broker certificate> and use the broker's TLS port")


def test_mqtt_watcher_plain_client_on_a_tls_port_is_a_broker_error(tls_broker: int) -> None:
    watcher = MqttWatcher("127.0.0.1", tls_broker, connect_timeout_s=2)
    with pytest.raises(BrokerError) as caught:
        watcher.connect()
    message = str(caught.value)
    assert message.startswith(f"mqtt broker 127.0.0.1:{tls_broker} ")
    assert "CONNACK" in message
    assert "\n" not in message


def test_mqtt_watcher_missing_ca_file_is_a_preflight_error(tmp_path: Path) -> None:
    watcher = MqttWatcher("127.0.0.1", 8883, ca_path=str(tmp_path / "nope.pem"))
    with pytest.raises(PreflightError, match=r"CA bundle '.*nope.pem' does not exist"):
        watcher.connect()


# -- gateway over TLS ------------------------------------------------------------------------------


@pytest.fixture
def https_gateway(pki: Pki) -> Iterator[EdgeXGatewayDouble]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert, pki.key)
    with EdgeXGatewayDouble(ssl_context=context) as double:
        yield double


def test_gateway_verifies_tls_with_the_given_ca_bundle(https_gateway: EdgeXGatewayDouble, pki: Pki) -> None:
    assert https_gateway.base_url.startswith("https://")
    with GatewayClient(https_gateway.base_url, verify=str(pki.ca)) as client:
        assert client.ping("core-data").service_name == "core-data"


@pytest.mark.parametrize("which_ca", ["system", "other"])
def test_gateway_untrusted_certificate_is_a_one_line_gateway_error(
    https_gateway: EdgeXGatewayDouble, pki: Pki, which_ca: str
) -> None:
    verify: str | bool = True if which_ca == "system" else str(pki.other_ca)
    with (
        GatewayClient(https_gateway.base_url, verify=verify, timeout_s=5) as client,
        pytest.raises(GatewayError) as caught,
    ):
        client.ping("core-data")
    message = str(caught.value)
    assert message.startswith(
        f"gateway: GET /core-data/api/v3/ping failed: TLS verification failed at {https_gateway.base_url} ("
    )
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert message.endswith("pass verify=<path of the CA certificate that signed the gateway certificate>")
    assert "\n" not in message
