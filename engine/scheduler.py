"""The fair job scheduler that feeds one GPU worker thread: tiers, per-user fairness, aging.

Policy, in the order it is applied when the worker asks for the next job:

1. **Tiers**, served strictly in order: 0 interactive follow-ups (upscale, region edit) whose
   mode is not relax; 1 turbo; 2 fast; 3 relax (interactive relax tickets wait in tier 3 too).
   A lower tier is served only when every higher one is empty.
2. **Fairness between users inside a tier** (start-time fair queuing). Each user has a FIFO of
   their own tickets and a virtual clock: the GPU seconds (ticket costs) they have been served
   in that tier. The user with the least service goes next; ties go to the user who entered
   the tier first. A user who enters a tier (first ticket, or back after having nothing queued
   there) starts at the least virtual clock of the users already waiting, so idle time earns
   no credit, a newcomer waits at most one rotation, and cancelling and resubmitting never
   moves a user ahead of their own past service. Equal costs give plain round-robin; a user
   whose jobs cost 4× gets a quarter of the turns.
3. **Aging.** With ``starvation_s`` set, a ticket is served as if it were one tier higher for
   every full ``starvation_s`` it has waited (by the injected clock), never above tier 0, so
   relax jobs are not starved forever by a busy fast queue. An aged ticket joins the higher
   tier's fair rotation like a newcomer.

``order()``, ``position()`` and ``estimated_wait()`` simulate successive ``pop()`` calls on a
copy of the state at the current clock reading, so they agree exactly with what the worker
would be given if nothing else were pushed and no further aging happened. The clock must not
go backwards (``time.monotonic`` by default).
"""

import heapq
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from engine.tickets import MODE_TIERS, TIER_COUNT, SpeedMode, Ticket

__all__ = ["FairScheduler", "SpeedMode", "Ticket"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Entry:
    ticket: Ticket
    seq: int  # arrival number: FIFO order within a user's queue and within an aging lane
    pushed_at: float  # by the scheduler's clock, for aging


class _Queue:
    """The scheduling state without locking, so that order() can simulate on a copy.

    Heaps are lazy: entries whose ticket was served, removed or aged into another tier stay in
    them until they reach the top and are dropped there, which keeps every operation
    O(log n) amortised instead of searching heaps on removal.
    """

    def __init__(self, starvation_s: float | None) -> None:
        self.starvation_s = starvation_s
        self.seq = 0
        self.front = 0  # restored tickets count down from here: ahead of every arrival
        self.joins = 0  # numbers users as they enter a tier, for ties
        self.entries: dict[str, _Entry] = {}
        self.tier_of: dict[str, int] = {}  # the tier a queued ticket is served in now
        # (base tier, tier) → (seq, job_id) oldest first. Within one base tier older tickets
        # are always aged at least as far, so aging only ever takes tickets off a lane's front.
        self.lanes: dict[tuple[int, int], deque[tuple[int, str]]] = {
            (base, tier): deque() for base in range(TIER_COUNT) for tier in range(1, base + 1)
        }
        # (tier, user) → heap of (seq, job_id): the user's FIFO in that tier, and its size.
        self.fifos: dict[tuple[int, str], list[tuple[int, str]]] = {}
        self.counts: dict[tuple[int, str], int] = {}
        # Per tier: users with tickets there → (virtual clock, join number), a heap of the same
        # for picking the least-served user, the clocks of users who left, and the least clock
        # seen, which only grows and is where a user entering an empty tier starts.
        self.active: list[dict[str, tuple[float, int]]] = [{} for _ in range(TIER_COUNT)]
        self.heaps: list[list[tuple[float, int, str]]] = [[] for _ in range(TIER_COUNT)]
        self.idle: list[dict[str, float]] = [{} for _ in range(TIER_COUNT)]
        self.floor: list[float] = [0.0] * TIER_COUNT

    def copy(self) -> "_Queue":
        other = _Queue(self.starvation_s)
        other.seq, other.front, other.joins = self.seq, self.front, self.joins
        other.entries = dict(self.entries)
        other.tier_of = dict(self.tier_of)
        other.lanes = {key: deque(lane) for key, lane in self.lanes.items()}
        other.fifos = {key: list(fifo) for key, fifo in self.fifos.items()}
        other.counts = dict(self.counts)
        other.active = [dict(active) for active in self.active]
        other.heaps = [list(heap) for heap in self.heaps]
        other.idle = [dict(idle) for idle in self.idle]
        other.floor = list(self.floor)
        return other

    def push(self, ticket: Ticket, now: float) -> None:
        entry = _Entry(ticket, self.seq, now)
        self.seq += 1
        self.entries[ticket.job_id] = entry
        self.tier_of[ticket.job_id] = ticket.tier
        self._enter(ticket.tier, entry)
        if self.starvation_s is not None and ticket.tier > 0:
            self.lanes[ticket.tier, ticket.tier].append((entry.seq, ticket.job_id))

    def restore(self, ticket: Ticket, now: float) -> None:
        """Put a served ticket back at the head of its user's queue, refunding its cost."""
        self.front -= 1  # below every arrival number: first in the user's FIFO
        entry = _Entry(ticket, self.front, now)
        tier, user = ticket.tier, ticket.user_id
        self.entries[ticket.job_id] = entry
        self.tier_of[ticket.job_id] = tier
        if user in self.active[tier]:
            vclock, join = self.active[tier][user]
            self._set_clock(tier, user, vclock - ticket.cost, join)
        elif user in self.idle[tier]:
            self.idle[tier][user] -= ticket.cost
        self._enter(tier, entry)

    def remove(self, job_id: str) -> bool:
        entry = self.entries.pop(job_id, None)
        if entry is None:
            return False
        self._leave(self.tier_of.pop(job_id), entry.ticket.user_id)
        return True

    def age(self, now: float) -> None:
        """Move every ticket that has waited long enough up to the tier it is now served in."""
        if self.starvation_s is None:
            return
        moves: list[tuple[int, str, int]] = []  # (seq, job_id, new tier)
        for base in range(1, TIER_COUNT):
            # Lower tiers first, so a ticket moving two tiers lands behind the older tickets
            # that were already waiting one tier below it.
            for tier in range(1, base + 1):
                lane = self.lanes[base, tier]
                while lane:
                    seq, job_id = lane[0]
                    entry = self.entries.get(job_id)
                    if entry is None or entry.seq != seq:
                        lane.popleft()  # served or removed
                        continue
                    waited = int((now - entry.pushed_at) // self.starvation_s)
                    target = max(0, base - waited)
                    if target >= tier:
                        break
                    lane.popleft()
                    moves.append((seq, job_id, target))
                    if target > 0:
                        self.lanes[base, target].append((seq, job_id))
        # Oldest first, so users enter the higher tier's rotation in arrival order.
        for _, job_id, target in sorted(moves):
            entry = self.entries[job_id]
            self._leave(self.tier_of[job_id], entry.ticket.user_id)
            self.tier_of[job_id] = target
            self._enter(target, entry)

    def serve(self) -> Ticket | None:
        """Take the next ticket: first non-empty tier, least-served user, their oldest ticket."""
        tier = next((t for t in range(TIER_COUNT) if self.active[t]), None)
        if tier is None:
            return None
        vclock, join, user = self._least_served(tier)
        fifo = self.fifos[tier, user]
        while not self._is_live(tier, *fifo[0]):
            heapq.heappop(fifo)
        _, job_id = heapq.heappop(fifo)
        entry = self.entries.pop(job_id)
        del self.tier_of[job_id]
        self.floor[tier] = max(self.floor[tier], vclock)
        self._set_clock(tier, user, vclock + entry.ticket.cost, join)
        self._leave(tier, user)
        return entry.ticket

    def peek(self) -> Ticket | None:
        """The ticket :meth:`serve` would take, taking nothing (it only drops stale heap
        entries, as serve does)."""
        tier = next((t for t in range(TIER_COUNT) if self.active[t]), None)
        if tier is None:
            return None
        _, _, user = self._least_served(tier)
        fifo = self.fifos[tier, user]
        while not self._is_live(tier, *fifo[0]):
            heapq.heappop(fifo)
        return self.entries[fifo[0][1]].ticket

    def _is_live(self, tier: int, seq: int, job_id: str) -> bool:
        entry = self.entries.get(job_id)
        return entry is not None and entry.seq == seq and self.tier_of[job_id] == tier

    def _least_served(self, tier: int) -> tuple[float, int, str]:
        heap, active = self.heaps[tier], self.active[tier]
        while active.get(heap[0][2]) != heap[0][:2]:
            heapq.heappop(heap)  # the user left the tier, or was served since
        return heap[0]

    def _set_clock(self, tier: int, user: str, vclock: float, join: int) -> None:
        self.active[tier][user] = (vclock, join)
        heapq.heappush(self.heaps[tier], (vclock, join, user))

    def _enter(self, tier: int, entry: _Entry) -> None:
        user = entry.ticket.user_id
        key = (tier, user)
        if user not in self.active[tier]:
            # Start at the least clock of those already waiting: time away earns no credit
            # and nobody waiting is overtaken by more than one turn. A user coming back keeps
            # any lead they had, so cancel-and-resubmit cannot jump the rotation.
            if self.active[tier]:
                self.floor[tier] = max(self.floor[tier], self._least_served(tier)[0])
            vclock = max(self.idle[tier].pop(user, self.floor[tier]), self.floor[tier])
            self._set_clock(tier, user, vclock, self.joins)
            self.joins += 1
            self.counts[key] = 0
            self.fifos[key] = []
        self.counts[key] += 1
        heapq.heappush(self.fifos[key], (entry.seq, entry.ticket.job_id))

    def _leave(self, tier: int, user: str) -> None:
        key = (tier, user)
        self.counts[key] -= 1
        if self.counts[key]:
            return
        del self.counts[key], self.fifos[key]
        vclock, _ = self.active[tier].pop(user)
        # The floor only grows, so a clock at or below it can never matter again.
        if vclock > self.floor[tier]:
            self.idle[tier][user] = vclock


class FairScheduler:
    """Thread-safe fair queue of tickets in front of one GPU worker; see the module docstring.

    The event loop thread calls ``push``/``remove``/``position``; the worker thread blocks in
    ``take``. All methods may be called from any thread.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        starvation_s: float | None = 600.0,
    ) -> None:
        if starvation_s is not None and not starvation_s > 0:
            raise ValueError(f"starvation_s must be > 0 or None, got {starvation_s!r}")
        self._clock = clock
        self._queue = _Queue(starvation_s)
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._closed = False

    def push(self, ticket: Ticket) -> None:
        """Queue a ticket; ValueError for a duplicate job_id or bad cost, RuntimeError if closed."""
        if not (ticket.cost > 0 and math.isfinite(ticket.cost)):
            raise ValueError(f"job {ticket.job_id}: cost must be finite and > 0, got {ticket.cost}")
        if ticket.mode not in MODE_TIERS:
            modes = ", ".join(SpeedMode)
            raise ValueError(
                f"job {ticket.job_id}: unknown mode {ticket.mode!r}; use one of {modes}"
            )
        with self._ready:
            if self._closed:
                raise RuntimeError(f"job {ticket.job_id}: the scheduler is closed")
            if ticket.job_id in self._queue.entries:
                raise ValueError(f"job {ticket.job_id} is already queued")
            now = self._clock()
            self._queue.age(now)
            self._queue.push(ticket, now)
            self._ready.notify()
        log.debug("job %s queued (user %s, %s)", ticket.job_id, ticket.user_id, ticket.mode)

    def pop(self) -> Ticket | None:
        """The next ticket to run, or None when nothing is queued or the scheduler is closed."""
        with self._lock:
            return self._pop_locked()

    def pop_if(self, accept: Callable[[Ticket], bool]) -> Ticket | None:
        """The next ticket if ``accept`` says yes to it, else None and nothing changes: a
        worker gathering a batch takes only what fair order would give it next anyway.
        ``accept`` runs under the scheduler's lock and must not call the scheduler."""
        with self._lock:
            if self._closed:
                return None
            self._queue.age(self._clock())
            ticket = self._queue.peek()
            if ticket is None or not accept(ticket):
                return None
            served = self._queue.serve()
        assert served == ticket  # noqa: S101 - peek and serve agree by construction
        log.debug("job %s dequeued into a batch", ticket.job_id)
        return ticket

    def take(self, timeout: float | None = None) -> Ticket | None:
        """Like pop(), but wait up to ``timeout`` seconds (forever if None) for a ticket.

        Returns None on timeout or once close() has been called.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while True:
                ticket = self._pop_locked()
                if ticket is not None or self._closed:
                    return ticket
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._ready.wait(remaining)

    def restore(self, ticket: Ticket) -> None:
        """Give back a ticket that was taken but could not run (a remote worker refused it or
        was lost): it goes to the head of its user's queue and its cost is refunded, so the
        user keeps their place in the rotation. Not aged from its first arrival."""
        with self._ready:
            if self._closed:
                raise RuntimeError(f"job {ticket.job_id}: the scheduler is closed")
            if ticket.job_id in self._queue.entries:
                raise ValueError(f"job {ticket.job_id} is already queued")
            self._queue.restore(ticket, self._clock())
            self._ready.notify()
        log.debug("job %s back at the head of user %s's queue", ticket.job_id, ticket.user_id)

    def remove(self, job_id: str) -> bool:
        """Cancel a queued ticket; False if it is not queued (never was, served or removed)."""
        with self._lock:
            removed = self._queue.remove(job_id)
        if removed:
            log.debug("job %s removed from the queue", job_id)
        return removed

    def order(self) -> list[Ticket]:
        """All queued tickets in the order they would be served now; changes nothing."""
        with self._lock:
            simulation = self._queue.copy()
            now = self._clock()
        simulation.age(now)
        served: list[Ticket] = []
        while (ticket := simulation.serve()) is not None:
            served.append(ticket)
        return served

    def position(self, job_id: str) -> int | None:
        """How many tickets would be served before this one (0 = next); None if not queued."""
        for place, ticket in enumerate(self.order()):
            if ticket.job_id == job_id:
                return place
        return None

    def estimated_wait(self, job_id: str) -> float | None:
        """The summed cost (GPU seconds) of the tickets ahead of this one; None if not queued."""
        ahead = 0.0
        for ticket in self.order():
            if ticket.job_id == job_id:
                return ahead
            ahead += ticket.cost
        return None

    def close(self) -> None:
        """Wake every take() waiter; from now on take()/pop() return None and push() raises."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue.entries)

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._queue.entries

    def _pop_locked(self) -> Ticket | None:
        if self._closed:
            return None
        self._queue.age(self._clock())
        ticket = self._queue.serve()
        if ticket is not None:
            log.debug("job %s dequeued for user %s", ticket.job_id, ticket.user_id)
        return ticket
