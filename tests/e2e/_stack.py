"""The end-to-end tests start the same real processes as ``python -m receiver.devstack``."""

from receiver.devstack import Collector, Receiver, free_port, run_collector, run_receiver

__all__ = ["Collector", "Receiver", "free_port", "run_collector", "run_receiver"]
