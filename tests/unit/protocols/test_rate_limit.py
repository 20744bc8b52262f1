"""realtime.protocols.rate_limit: the token bucket behind `rate_limited`."""

from realtime.protocols.rate_limit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5  # one token back at 2 per second
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now = 100  # refills only up to the burst
    assert sum(bucket.take() for _ in range(10)) == 3
