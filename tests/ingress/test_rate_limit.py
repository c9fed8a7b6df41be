"""Per-device token buckets: burst, refill, Retry-After, LRU eviction, with a fake clock."""

import pytest

from receiver.ingress._rate_limit import RateLimiter, retry_after_header


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_burst_then_refused_with_time_until_next_token(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=0.5, burst=3, max_devices=10, clock=clock)
    assert [limiter.check("cpe") for _ in range(3)] == [None, None, None]
    assert limiter.check("cpe") == pytest.approx(2.0)  # one token per 2 s
    clock.now += 0.5
    assert limiter.check("cpe") == pytest.approx(1.5)


def test_refill_is_proportional_and_capped_at_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2, max_devices=10, clock=clock)
    assert limiter.check("cpe") is None and limiter.check("cpe") is None
    clock.now += 1.0
    assert limiter.check("cpe") is None
    assert limiter.check("cpe") is not None
    clock.now += 3600  # a long silence earns at most `burst` tokens
    assert [limiter.check("cpe") for _ in range(3)] == [None, None, pytest.approx(1.0)]


def test_refused_calls_take_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1, max_devices=10, clock=clock)
    assert limiter.check("cpe") is None
    for _ in range(100):
        assert limiter.check("cpe") == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.check("cpe") is None  # hammering did not push it further back


def test_devices_have_separate_buckets(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1, max_devices=10, clock=clock)
    assert limiter.check("a") is None
    assert limiter.check("a") is not None
    assert limiter.check("b") is None


def test_least_recently_used_device_is_evicted(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=0.001, burst=1, max_devices=2, clock=clock)
    assert limiter.check("a") is None
    assert limiter.check("b") is None
    assert limiter.check("a") is not None  # touches a: b is now least recently used
    assert limiter.check("c") is None  # evicts b
    assert len(limiter) == 2
    assert limiter.check("a") is not None  # a kept its (empty) bucket
    assert limiter.check("b") is None  # b was forgotten: back with a full bucket


def test_memory_stays_bounded(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=5, max_devices=1000, clock=clock)
    for i in range(50_000):
        limiter.check(f"cpe-{i}")
    assert len(limiter) == 1000


def test_clock_stepping_back_does_not_drain_or_crash(clock: FakeClock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2, max_devices=10, clock=clock)
    assert limiter.check("cpe") is None
    clock.now -= 100
    assert limiter.check("cpe") is None
    assert limiter.check("cpe") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"rate_per_s": 0, "burst": 1}, "rate_per_s"),
        ({"rate_per_s": float("nan"), "burst": 1}, "rate_per_s"),
        ({"rate_per_s": float("inf"), "burst": 1}, "rate_per_s"),
        ({"rate_per_s": 1, "burst": 0}, "burst"),
        ({"rate_per_s": 1, "burst": 1, "max_devices": 0}, "max_devices"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "header"), [(0.001, "1"), (1.0, "1"), (1.2, "2"), (59.9, "60")])
def test_retry_after_header_rounds_up_to_whole_seconds(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header
