"""Tests for the fair scheduler: tiers, per-user fairness, aging, order queries, threads."""

from __future__ import annotations

import itertools
import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scheduler import FairScheduler, SpeedMode, Ticket


class FakeClock:
    """A clock the test moves by hand, so aging needs no sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


_ids = itertools.count()


def ticket(
    user: str,
    mode: SpeedMode = SpeedMode.FAST,
    *,
    interactive: bool = False,
    cost: float = 1.0,
    job_id: str | None = None,
) -> Ticket:
    job = job_id if job_id is not None else f"{user}-{next(_ids)}"
    return Ticket(job, user, mode, interactive, cost)


def drain(scheduler: FairScheduler) -> list[Ticket]:
    served = []
    while (next_ticket := scheduler.pop()) is not None:
        served.append(next_ticket)
    return served


def users_of(tickets: list[Ticket]) -> str:
    return "".join(t.user_id for t in tickets)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def scheduler(clock: FakeClock) -> FairScheduler:
    return FairScheduler(clock=clock)


# -- fairness between users ---------------------------------------------------------------


def test_scheduler_alternates_between_users_with_many_jobs(scheduler: FairScheduler) -> None:
    a_jobs = [ticket("a") for _ in range(10)]
    b_jobs = [ticket("b") for _ in range(10)]
    for t in a_jobs + b_jobs:
        scheduler.push(t)

    served = drain(scheduler)

    assert users_of(served) == "ab" * 10
    # Each user's own jobs still run in the order they were submitted.
    assert [t for t in served if t.user_id == "a"] == a_jobs
    assert [t for t in served if t.user_id == "b"] == b_jobs


def test_scheduler_serves_newcomer_within_one_rotation(scheduler: FairScheduler) -> None:
    for user in "abc":
        for _ in range(20):
            scheduler.push(ticket(user))
    for _ in range(7):
        scheduler.pop()

    scheduler.push(ticket("z", job_id="z-only"))

    # At most one turn for each of the three users already waiting comes first.
    place = scheduler.position("z-only")
    assert place is not None
    assert place <= 3
    assert "z-only" in [t.job_id for t in drain(scheduler)[:4]]


def test_scheduler_single_job_not_stuck_behind_long_queue(scheduler: FairScheduler) -> None:
    for _ in range(20):
        scheduler.push(ticket("a"))
    scheduler.push(ticket("b", job_id="b-only"))

    assert [t.user_id for t in drain(scheduler)][:2] == ["a", "b"]


def test_scheduler_gives_costly_user_proportionally_fewer_turns(scheduler: FairScheduler) -> None:
    for _ in range(200):
        scheduler.push(ticket("big", cost=4.0))
    for _ in range(800):
        scheduler.push(ticket("small", cost=1.0))

    counts = Counter(t.user_id for t in drain(scheduler)[:500])

    assert counts["small"] == 4 * counts["big"]
    assert counts["big"] == 100


def test_scheduler_idle_user_earns_no_credit(scheduler: FairScheduler) -> None:
    for _ in range(20):
        scheduler.push(ticket("a"))
    for _ in range(10):
        scheduler.pop()

    for _ in range(10):
        scheduler.push(ticket("b"))

    # b arrives late but gets its fair share from now on, not ten turns in a row.
    assert users_of(drain(scheduler)[:10]) in {"ab" * 5, "ba" * 5}


def test_scheduler_cancel_and_resubmit_does_not_skip_ahead(scheduler: FairScheduler) -> None:
    a_jobs = [ticket("a", cost=4.0) for _ in range(3)]
    for t in a_jobs:
        scheduler.push(t)
    b_jobs = [ticket("b") for _ in range(8)]
    for t in b_jobs:
        scheduler.push(t)
    assert [scheduler.pop(), scheduler.pop()] == [a_jobs[0], b_jobs[0]]

    for t in a_jobs[1:]:
        assert scheduler.remove(t.job_id)
    for t in a_jobs[1:]:
        scheduler.push(t)

    # a has had 4 GPU seconds, b only 1: b catches up before a runs again.
    assert users_of(drain(scheduler)[:5]) == "bbbba"


@pytest.mark.parametrize(
    "jobs_per_user", [[20] * 50, [1 + i % 20 for i in range(50)]], ids=["equal", "uneven"]
)
def test_scheduler_keeps_many_users_within_one_turn(
    scheduler: FairScheduler, jobs_per_user: list[int]
) -> None:
    remaining = {f"u{i:02}": jobs for i, jobs in enumerate(jobs_per_user)}
    pending = dict(remaining)
    while pending:  # interleave submissions as users would
        for user in list(pending):
            scheduler.push(ticket(user))
            pending[user] -= 1
            if not pending[user]:
                del pending[user]

    served: Counter[str] = Counter()
    for t in drain(scheduler):
        served[t.user_id] += 1
        remaining[t.user_id] -= 1
        still_waiting = [served[user] for user, left in remaining.items() if left]
        if still_waiting:
            assert max(still_waiting) - min(still_waiting) <= 1
    assert not any(remaining.values())


# -- tiers and aging ----------------------------------------------------------------------


def test_scheduler_serves_interactive_then_turbo_then_fast_then_relax(
    scheduler: FairScheduler,
) -> None:
    scheduler.push(ticket("a", SpeedMode.RELAX, job_id="relax"))
    scheduler.push(ticket("a", SpeedMode.RELAX, interactive=True, job_id="relax-upscale"))
    scheduler.push(ticket("a", SpeedMode.FAST, job_id="fast"))
    scheduler.push(ticket("a", SpeedMode.TURBO, job_id="turbo"))
    scheduler.push(ticket("a", SpeedMode.FAST, interactive=True, job_id="fast-upscale"))

    served = [t.job_id for t in drain(scheduler)]

    assert served == ["fast-upscale", "turbo", "fast", "relax", "relax-upscale"]


def test_scheduler_serves_relax_when_nothing_else_waits(scheduler: FairScheduler) -> None:
    scheduler.push(ticket("a", SpeedMode.RELAX, job_id="r1"))
    scheduler.push(ticket("b", SpeedMode.FAST, job_id="f1"))
    assert scheduler.pop() == ticket("b", SpeedMode.FAST, job_id="f1")

    assert scheduler.pop() == ticket("a", SpeedMode.RELAX, job_id="r1")
    assert scheduler.pop() is None


def test_scheduler_ages_relax_ticket_into_fast_rotation(clock: FakeClock) -> None:
    scheduler = FairScheduler(clock=clock, starvation_s=600.0)
    scheduler.push(ticket("r", SpeedMode.RELAX, job_id="relax"))
    clock.now = 500.0
    for _ in range(5):
        scheduler.push(ticket("f", SpeedMode.FAST))

    clock.now = 599.0
    assert scheduler.position("relax") == 5

    # One full period waited: served as fast, so it takes the next turn after f's current one.
    clock.now = 600.0
    assert scheduler.position("relax") == 1
    assert [t.user_id for t in drain(scheduler)] == ["f", "r", "f", "f", "f", "f"]


def test_scheduler_ages_one_tier_per_period(clock: FakeClock) -> None:
    scheduler = FairScheduler(clock=clock, starvation_s=10.0)
    scheduler.push(ticket("r", SpeedMode.RELAX, job_id="old-relax"))
    clock.now = 25.0  # two full periods: relax → turbo, ahead of any newer fast job
    scheduler.push(ticket("f", SpeedMode.FAST, job_id="fast"))
    scheduler.push(ticket("t", SpeedMode.TURBO, job_id="turbo"))
    scheduler.push(ticket("i", SpeedMode.FAST, interactive=True, job_id="upscale"))

    assert [t.job_id for t in scheduler.order()] == ["upscale", "old-relax", "turbo", "fast"]


def test_scheduler_ages_no_higher_than_interactive(clock: FakeClock) -> None:
    scheduler = FairScheduler(clock=clock, starvation_s=10.0)
    for n in range(3):
        scheduler.push(ticket("i", SpeedMode.FAST, interactive=True, job_id=f"upscale{n}"))
    scheduler.push(ticket("r", SpeedMode.RELAX, job_id="old-relax"))

    clock.now = 10_000.0
    scheduler.push(ticket("f", SpeedMode.FAST, job_id="new-fast"))

    # Tier 0 at most: the old relax job takes turns with the upscales instead of jumping them.
    served = [t.job_id for t in drain(scheduler)]
    assert served == ["upscale0", "old-relax", "upscale1", "upscale2", "new-fast"]


def test_scheduler_ages_longest_waiting_ticket_first(clock: FakeClock) -> None:
    scheduler = FairScheduler(clock=clock, starvation_s=10.0)
    scheduler.push(ticket("r", SpeedMode.RELAX, job_id="older-relax"))
    clock.now = 5.0
    scheduler.push(ticket("f", SpeedMode.FAST, job_id="newer-fast"))

    clock.now = 1_000.0  # both have aged into tier 0 at once

    assert [t.job_id for t in scheduler.order()] == ["older-relax", "newer-fast"]


def test_scheduler_without_starvation_limit_never_ages(clock: FakeClock) -> None:
    scheduler = FairScheduler(clock=clock, starvation_s=None)
    scheduler.push(ticket("r", SpeedMode.RELAX, job_id="relax"))
    clock.now = 1e9
    scheduler.push(ticket("f", SpeedMode.FAST, job_id="fast"))

    assert [t.job_id for t in drain(scheduler)] == ["fast", "relax"]


def test_scheduler_rejects_non_positive_starvation_limit() -> None:
    with pytest.raises(ValueError, match="starvation_s"):
        FairScheduler(starvation_s=0)


# -- queries and cancellation -------------------------------------------------------------


def test_scheduler_reports_position_and_estimated_wait(scheduler: FairScheduler) -> None:
    scheduler.push(ticket("a", cost=5.0, job_id="a1"))
    scheduler.push(ticket("a", cost=5.0, job_id="a2"))
    scheduler.push(ticket("b", cost=2.0, job_id="b1"))

    assert [t.job_id for t in scheduler.order()] == ["a1", "b1", "a2"]
    assert [scheduler.position(j) for j in ("a1", "b1", "a2")] == [0, 1, 2]
    assert [scheduler.estimated_wait(j) for j in ("a1", "b1", "a2")] == [0.0, 5.0, 7.0]
    assert scheduler.position("nope") is None
    assert scheduler.estimated_wait("nope") is None
    assert len(scheduler) == 3  # the queries changed nothing


def test_scheduler_remove_cancels_queued_ticket(scheduler: FairScheduler) -> None:
    for job in ("a1", "a2", "a3"):
        scheduler.push(ticket("a", job_id=job))

    assert scheduler.remove("a2") is True
    assert scheduler.remove("a2") is False
    assert scheduler.remove("never-queued") is False
    assert "a2" not in scheduler
    assert len(scheduler) == 2
    assert [t.job_id for t in drain(scheduler)] == ["a1", "a3"]
    assert scheduler.remove("a1") is False  # already served


def test_scheduler_rejects_duplicate_job_id(scheduler: FairScheduler) -> None:
    scheduler.push(ticket("a", job_id="same"))

    with pytest.raises(ValueError, match="already queued"):
        scheduler.push(ticket("b", job_id="same"))
    assert len(scheduler) == 1
    scheduler.pop()
    scheduler.push(ticket("b", job_id="same"))  # served ids may come back (a retry)
    assert "same" in scheduler


@pytest.mark.parametrize("cost", [0.0, -1.0, float("nan"), float("inf")])
def test_scheduler_rejects_bad_cost(scheduler: FairScheduler, cost: float) -> None:
    with pytest.raises(ValueError, match="cost"):
        scheduler.push(ticket("a", cost=cost))
    assert len(scheduler) == 0


def test_scheduler_rejects_unknown_mode(scheduler: FairScheduler) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        scheduler.push(Ticket("j", "a", "slow"))  # type: ignore[arg-type]


# -- order() agrees with pop() -------------------------------------------------------------

_operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("push"),
            st.sampled_from("abcd"),
            st.sampled_from(list(SpeedMode)),
            st.booleans(),
            st.sampled_from([0.5, 1.0, 3.0]),
        ),
        st.tuples(st.just("remove"), st.integers(0, 60)),
        st.tuples(st.just("pop")),
        st.tuples(st.just("wait"), st.sampled_from([1.0, 5.0, 10.0])),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(operations=_operations, starvation_s=st.sampled_from([None, 4.0, 10.0]))
def test_scheduler_order_matches_pop_sequence(
    operations: list[tuple[object, ...]], starvation_s: float | None
) -> None:
    clock = FakeClock()
    scheduler = FairScheduler(clock=clock, starvation_s=starvation_s)
    pushed = 0
    for op in operations:
        match op:
            case ("push", str(user), SpeedMode() as mode, bool(interactive), float(cost)):
                scheduler.push(Ticket(f"j{pushed}", user, mode, interactive, cost))
                pushed += 1
            case ("remove", int(n)):
                was_queued = f"j{n}" in scheduler
                assert scheduler.remove(f"j{n}") is was_queued
                assert f"j{n}" not in scheduler
            case ("pop",):
                expected = scheduler.order()
                assert scheduler.pop() == (expected[0] if expected else None)
            case ("wait", float(seconds)):
                clock.now += seconds
        _assert_queries_agree(scheduler)

    expected = scheduler.order()
    assert scheduler.order() == expected  # asking twice changes nothing
    assert len(expected) == len(scheduler)
    assert drain(scheduler) == expected


def _assert_queries_agree(scheduler: FairScheduler) -> None:
    order = scheduler.order()
    ahead = 0.0
    for place, queued in enumerate(order):
        assert queued.job_id in scheduler
        assert scheduler.position(queued.job_id) == place
        assert scheduler.estimated_wait(queued.job_id) == pytest.approx(ahead)
        ahead += queued.cost


# -- threads -------------------------------------------------------------------------------


def test_scheduler_takes_every_ticket_once_across_threads() -> None:
    scheduler = FairScheduler()
    producers, per_producer = 4, 1500
    taken: list[Ticket] = []

    def produce(user: str) -> None:
        for n in range(per_producer):
            mode = (SpeedMode.FAST, SpeedMode.RELAX, SpeedMode.TURBO)[n % 3]
            scheduler.push(Ticket(f"{user}-{n}", user, mode, interactive=n % 7 == 0))

    def consume() -> None:
        while len(taken) < producers * per_producer:
            next_ticket = scheduler.take(timeout=5.0)
            if next_ticket is None:
                return
            taken.append(next_ticket)

    threads = [threading.Thread(target=produce, args=(f"u{i}",)) for i in range(producers)]
    consumer = threading.Thread(target=consume)
    consumer.start()
    for thread in threads:
        thread.start()
    for thread in [*threads, consumer]:
        thread.join(timeout=30)

    assert not consumer.is_alive()
    job_ids = [t.job_id for t in taken]
    assert len(job_ids) == producers * per_producer
    assert len(set(job_ids)) == len(job_ids)
    assert len(scheduler) == 0


def test_scheduler_close_wakes_blocked_take() -> None:
    scheduler = FairScheduler()
    results: list[Ticket | None] = []
    waiter = threading.Thread(target=lambda: results.append(scheduler.take()))
    waiter.start()
    waiter.join(timeout=0.05)
    assert waiter.is_alive()  # blocked: nothing queued

    scheduler.close()
    waiter.join(timeout=5)

    assert not waiter.is_alive()
    assert results == [None]


def test_scheduler_take_returns_ticket_pushed_while_waiting() -> None:
    scheduler = FairScheduler()
    results: list[Ticket | None] = []
    waiter = threading.Thread(target=lambda: results.append(scheduler.take(timeout=5)))
    waiter.start()

    scheduler.push(ticket("a", job_id="late"))
    waiter.join(timeout=5)

    assert [t.job_id for t in results if t] == ["late"]


def test_scheduler_take_times_out_when_empty(scheduler: FairScheduler) -> None:
    assert scheduler.take(timeout=0.01) is None
    assert scheduler.take(timeout=0) is None


def test_scheduler_after_close_serves_nothing_and_refuses_pushes(
    scheduler: FairScheduler,
) -> None:
    scheduler.push(ticket("a", job_id="left"))
    scheduler.close()

    assert scheduler.pop() is None
    assert scheduler.take() is None
    with pytest.raises(RuntimeError, match="closed"):
        scheduler.push(ticket("a"))
    assert "left" in scheduler  # still visible, e.g. to persist or fail it on shutdown
