"""Per-device token buckets: each device may send ``burst`` reports at once and ``rate_per_s`` on
average; beyond that the caller answers 429 with ``Retry-After``.

Memory is bounded: at most ``max_devices`` buckets, least recently used evicted first. An evicted
device comes back with a full bucket, so a sender cycling through more than ``max_devices`` ids
escapes the limit; size it above the fleet (a bucket is ~200 bytes) and key it by the
*authenticated* device (with binding on) so ids cannot be made up. Each call is O(1).

Not thread-safe: call it from the event loop only (it never blocks)."""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

DEFAULT_MAX_DEVICES: Final = 100_000


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        max_devices: int = DEFAULT_MAX_DEVICES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        problems = []
        if not rate_per_s > 0 or math.isinf(rate_per_s):
            problems.append(f"rate_per_s must be a positive number (got {rate_per_s})")
        if burst < 1:
            problems.append(f"burst must be >= 1 (got {burst})")
        if max_devices < 1:
            problems.append(f"max_devices must be >= 1 (got {max_devices})")
        if problems:
            raise ValueError("; ".join(problems))
        self._rate = rate_per_s
        self._burst = float(burst)
        self._max_devices = max_devices
        self._clock = clock
        # device -> [tokens, time of last update]; ordered least recently used first.
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, device_id: str) -> float | None:
        """Take one token for ``device_id``: None if allowed, else the seconds until a token is
        available (for ``Retry-After``; see :func:`retry_after_header`). A refused call takes
        nothing, so a device hammering us is not pushed further back."""
        now = self._clock()
        bucket = self._buckets.get(device_id)
        if bucket is None:
            bucket = self._buckets[device_id] = [self._burst, now]
            if len(self._buckets) > self._max_devices:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(device_id)
            # max(): a clock that steps back must not drain the bucket.
            elapsed = max(0.0, now - bucket[1])
            bucket[0] = min(self._burst, bucket[0] + elapsed * self._rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return None
        return (1.0 - bucket[0]) / self._rate


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` takes whole seconds; round up so the retry does not come too early."""
    return str(max(1, math.ceil(seconds)))
