"""The receiver joins a broker over TLS with a username and a password read from a file: a Mosquitto
with a TLS listener (test CA from trustme) and a password file (mosquitto_passwd)."""

import asyncio
import ssl
import subprocess
from pathlib import Path

import orjson
import trustme
from gmqtt import Client

from receiver.devstack import run_mosquitto

from ._stack import Collector, run_receiver


def test_receiver_uses_tls_and_credentials_to_reach_the_broker(collector: Collector, tmp_path: Path) -> None:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    ca_file, chain, key = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    server.cert_chain_pems[0].write_to_path(str(chain))
    server.private_key_pem.write_to_path(str(key))
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "receiver", "broker-secret"], check=True)
    (tmp_path / "mqtt-password").write_text("broker-secret\n")
    extra = f"user root\ncafile {ca_file}\ncertfile {chain}\nkeyfile {key}\npassword_file {passwords}\n"
    with run_mosquitto(tmp_path / "broker", extra_config=extra) as broker:
        env = {
            "RECEIVER_MQTT__USERNAME": "receiver",
            "RECEIVER_MQTT__PASSWORD_FILE": str(tmp_path / "mqtt-password"),
            "RECEIVER_MQTT__CA_FILE": str(ca_file),
            "RECEIVER_MQTT__HOST_ID": "tls-host",
        }
        with run_receiver(
            tmp_path, collector.otlp_endpoint, "--mqtt-broker", f"mqtts://127.0.0.1:{broker.port}", env=env
        ) as receiver:

            async def state() -> dict[str, object]:
                received: asyncio.Queue[bytes] = asyncio.Queue()
                context = ssl.create_default_context(cafile=str(ca_file))
                client = Client("probe-tls")
                client.set_auth_credentials("receiver", "broker-secret")
                client.on_message = lambda c, t, p, q, props: received.put_nowait(p) or 0
                await client.connect("127.0.0.1", broker.port, ssl=context)
                client.subscribe("spBv1.0/STATE/tls-host", qos=1)
                payload = await asyncio.wait_for(received.get(), 15)
                await client.disconnect()
                return dict(orjson.loads(payload))

            assert asyncio.run(state())["online"] is True
            assert "broker-secret" not in receiver.log_path.read_text()
