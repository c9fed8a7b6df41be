"""Command line: ``python -m receiver serve --host H --port P --otlp-endpoint HOST:PORT``."""

import argparse
import logging
import ssl
import sys
from collections.abc import Sequence

from .config import ConfigError, ReceiverConfig, load_config
from .mapping import RulesError


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Subcommands with their own parsers (and their own --help).
    if args_list[:1] == ["credentials"]:
        from .credentials_cli import main as credentials

        return credentials(args_list[1:])
    if args_list[:1] == ["ingest-cdr"]:
        from .cdr_cli import main as ingest_cdr

        return ingest_cdr(args_list[1:])
    parser = argparse.ArgumentParser(prog="python -m receiver", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP receiver")
    commands.add_parser("credentials", help="add, remove or list CPE credentials (see its --help)")
    commands.add_parser("ingest-cdr", help="send CDR files to the collector, resumably (see its --help)")
    serve.add_argument("--config", help="YAML config file (sections server, limits, mapping, batch, export)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.add_argument("--otlp-endpoint", help="collector OTLP/gRPC HOST:PORT (default 127.0.0.1:4317)")
    serve.add_argument(
        "--mqtt-broker", help="mqtt://HOST:PORT: turn on the MQTT inputs (Sparkplug B host, LwM2M, USP)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(args_list)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(
            args.config,
            overrides={
                "server.host": args.host,
                "server.port": args.port,
                "export.endpoint": args.otlp_endpoint,
                "mqtt.broker": args.mqtt_broker,
            },
        )
    except ConfigError as exc:
        print(f"python -m receiver: {exc}", file=sys.stderr)
        return 2
    return _serve(config, args.log_level)


def _serve(config: ReceiverConfig, log_level: str) -> int:
    import uvicorn

    from .app import create_app
    from .ingress import LenientHttpToolsProtocol

    try:
        app = create_app(config)
    except (RulesError, OSError, ValueError) as exc:
        print(f"python -m receiver: invalid configuration:\n  {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=config.server.host,
        port=config.server.port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=15,
        http=LenientHttpToolsProtocol,
        ssl_certfile=config.tls.cert_file,
        ssl_keyfile=config.tls.key_file,
        ssl_ca_certs=config.tls.client_ca_file,
        ssl_cert_reqs=(ssl.CERT_REQUIRED if config.tls.require_client_cert else ssl.CERT_OPTIONAL)
        if config.tls.client_ca_file
        else ssl.CERT_NONE,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
