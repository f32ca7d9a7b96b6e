"""Failed sign-ins: a few are free, then the name or the address waits, longer each time."""

from __future__ import annotations

from xiaozhi_server.auth.throttle import SignInThrottle, ThrottlePolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, per_user: int = 3, per_address: int = 10) -> SignInThrottle:
    return SignInThrottle(
        ThrottlePolicy(free_failures=per_user, window_seconds=600, max_lock_seconds=60),
        ThrottlePolicy(free_failures=per_address, window_seconds=600, max_lock_seconds=60),
        clock=clock,
    )


def fail(limiter: SignInThrottle, times: int, user: str = "admin", address: str = "a") -> None:
    for _ in range(times):
        limiter.failed(user, address)


def test_the_free_failures_do_not_lock() -> None:
    limiter = throttle(Clock())
    fail(limiter, 3)
    assert limiter.retry_after("admin", "a") is None


def test_one_failure_more_locks_the_name_for_a_second() -> None:
    limiter = throttle(Clock())
    fail(limiter, 4)
    assert limiter.retry_after("admin", "b") == 1


def test_each_further_failure_doubles_the_wait_up_to_the_ceiling() -> None:
    clock = Clock()
    limiter = throttle(clock)
    waits = []
    for _ in range(10):
        fail(limiter, 1)
        waits.append(limiter.retry_after("admin", "elsewhere") or 0)
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60]


def test_the_lock_ends_when_its_time_is_up() -> None:
    clock = Clock()
    limiter = throttle(clock)
    fail(limiter, 5)
    clock.now += 2.01
    assert limiter.retry_after("admin", "a") is None


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    limiter = throttle(clock)
    fail(limiter, 3)
    clock.now += 601
    fail(limiter, 1)
    assert limiter.retry_after("admin", "a") is None


def test_a_success_clears_the_name_but_not_the_address() -> None:
    limiter = throttle(Clock(), per_user=3, per_address=3)
    fail(limiter, 3, user="admin", address="a")
    limiter.succeeded("admin")
    fail(limiter, 1, user="admin", address="a")
    assert limiter.retry_after("admin", "b") is None
    assert limiter.retry_after("someone", "a") == 1


def test_many_names_from_one_address_lock_the_address() -> None:
    limiter = throttle(Clock(), per_user=3, per_address=10)
    for n in range(11):
        fail(limiter, 1, user=f"guess-{n}", address="attacker")
    assert limiter.retry_after("admin", "attacker") == 1
    assert limiter.retry_after("admin", "office") is None


def test_a_flood_of_addresses_does_not_unlock_a_name() -> None:
    limiter = throttle(Clock(), per_user=3, per_address=1000)
    fail(limiter, 4, user="admin", address="first")
    for n in range(20_000):
        limiter.failed("nobody", f"address-{n}")
    assert limiter.retry_after("admin", "fresh-address") is not None
