"""Serving: one receiver process, or ``server.workers`` processes sharing the port.

Several processes: each binds the port with SO_REUSEPORT (the kernel spreads connections) and owns
its spool directory (``receiver.spool.worker_directory``), so a 2xx keeps meaning durable without
any locking between them; the parent only starts, restarts and stops them."""

import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import ssl
import sys
import time

from .config import ReceiverConfig
from .mapping import RulesError


def serve(config: ReceiverConfig, log_level: str) -> int:
    if config.server.workers == 1:
        return _serve_worker(config, log_level, 0)
    return _supervise(config, log_level)


def _serve_worker(config: ReceiverConfig, log_level: str, worker: int) -> int:
    import uvicorn

    from .app import create_app
    from .ingress import LenientHttpToolsProtocol

    try:
        app = create_app(config, worker, own_process=True)
    except (RulesError, OSError, ValueError) as exc:
        print(f"python -m receiver: invalid configuration:\n  {exc}", file=sys.stderr)
        return 2
    server = uvicorn.Server(
        uvicorn.Config(
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
    )
    if config.server.workers == 1:
        server.run()
    else:
        server.run(sockets=[_shared_port_socket(config.server.host, config.server.port)])
    return 0 if server.started else 1


def _shared_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket that the other workers bind too: the kernel spreads connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def _worker_main(config: ReceiverConfig, log_level: str, worker: int) -> None:
    logging.basicConfig(
        level=log_level.upper(), format=f"%(asctime)s %(levelname)s worker-{worker} %(name)s: %(message)s"
    )
    sys.exit(_serve_worker(config, log_level, worker))


def _supervise(config: ReceiverConfig, log_level: str) -> int:
    """Run ``server.workers`` processes; restart one that dies, stop all on SIGTERM/SIGINT. A worker
    that exits 2 (bad configuration) stops the receiver: restarting it would fail the same way."""
    context = multiprocessing.get_context("spawn")  # no fork of gRPC or asyncio state
    stopping = False

    def start(worker: int) -> multiprocessing.process.BaseProcess:
        process = context.Process(
            target=_worker_main, args=(config, log_level, worker), name=f"receiver-worker-{worker}"
        )
        process.start()
        return process

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in workers.values():
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    workers = {index: start(index) for index in range(config.server.workers)}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while workers:
        for index, process in list(workers.items()):
            process.join(timeout=0.2)
            if process.exitcode is None:
                continue
            del workers[index]
            if stopping:
                continue
            if process.exitcode == 2:
                logging.error("worker %d: invalid configuration; stopping the receiver", index)
                status = 2
                stop(signal.SIGTERM, None)
                continue
            logging.error("worker %d exited with %s; restarting it", index, process.exitcode)
            time.sleep(1.0)
            workers[index] = start(index)
    return status
