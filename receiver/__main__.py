"""Command line: ``python -m receiver serve --host H --port P --otlp-endpoint HOST:PORT``."""

import argparse
import logging
import sys
from collections.abc import Sequence

from .config import ConfigError, load_config


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
    serve.add_argument("--workers", type=int, help="receiver processes sharing the port (default 1)")
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
                "server.workers": args.workers,
            },
        )
    except ConfigError as exc:
        print(f"python -m receiver: {exc}", file=sys.stderr)
        return 2
    from .serve import serve as run_server

    return run_server(config, args.log_level)


if __name__ == "__main__":
    sys.exit(main())
