"""The sliding window: call, failure and slow-call counts over the last ``window`` seconds.

Time-bucketed (``buckets`` buckets of ``window / buckets`` seconds), so old failures age out
at bucket granularity. Completed buckets live in rings and are summed in ``prev_*``; the
current bucket is plain integers, so the breaker's success path touches no list. Not locked
itself: the breaker's lock guards every use.

The consecutive-failures run ages out too, exactly rather than by bucket: ``run_ends``
keeps the end times of the run's latest failures (at most the limit), and a failure counts
toward the run only while it ended less than ``window`` seconds ago. A success ends the run
(``consec = 0``; the success path writes nothing else).
"""

from __future__ import annotations

from collections import deque

from ragsight._resilience.clock import rebase_ring


class SlidingWindow:
    """Counts over the recent past, and the run of consecutive failures."""

    __slots__ = (
        "bucket_end",
        "calls",
        "consec",
        "cur_calls",
        "cur_fails",
        "cur_slow",
        "fails",
        "head",
        "n_buckets",
        "prev_calls",
        "prev_fails",
        "prev_slow",
        "run_ends",
        "slow_duration",
        "slows",
        "span",
        "width",
    )

    def __init__(
        self, window: float, buckets: int, slow_duration: float, run_limit: int = 0
    ) -> None:
        self.consec = 0  # failures since the last success (the run, before ageing)
        self.run_ends: deque[float] = deque(maxlen=max(1, run_limit))
        self.n_buckets = 0
        self.width = 0.0
        self.span = window
        self.slow_duration = slow_duration
        self.reshape(window, buckets)

    def limit_run(self, run_limit: int) -> None:
        """Keep the end times of at most ``run_limit`` failures of the run (0: one)."""
        size = max(1, run_limit)
        if self.run_ends.maxlen != size:
            self.run_ends = deque(self.run_ends, maxlen=size)

    def consecutive(self, now: float) -> int:
        """Consecutive failures (none succeeded in between, the last one the latest call)
        that ended inside the window ``(now - window, now]``, counted up to the run limit."""
        if self.consec == 0:
            return 0
        horizon = now - self.span
        return sum(1 for end in self.run_ends if end > horizon)

    def reshape(self, window: float, buckets: int) -> None:
        """Take a new length or bucket count; the counts start afresh if either changed."""
        width = window / buckets
        self.span = window
        if buckets == self.n_buckets and width == self.width:
            return
        self.n_buckets = buckets
        self.width = width
        self.calls = [0] * buckets
        self.fails = [0] * buckets
        self.slows = [0] * buckets
        self.head = -1
        self.bucket_end = float("-inf")  # forces the next record through roll()
        self.cur_calls = self.cur_fails = self.cur_slow = 0
        self.prev_calls = self.prev_fails = self.prev_slow = 0

    def roll(self, now: float) -> None:
        """Move to ``now``: close the current bucket into the ring, expire the buckets that
        left the window."""
        bucket = int(now // self.width)
        head = self.head
        if bucket <= head:  # same bucket (float edge) or a clock that went back: keep it
            return
        nb = self.n_buckets
        slot = head % nb
        self.calls[slot] = self.cur_calls
        self.fails[slot] = self.cur_fails
        self.slows[slot] = self.cur_slow
        self.prev_calls += self.cur_calls
        self.prev_fails += self.cur_fails
        self.prev_slow += self.cur_slow
        self.cur_calls = self.cur_fails = self.cur_slow = 0
        for step in range(1, min(bucket - head, nb) + 1):
            i = (head + step) % nb
            self.prev_calls -= self.calls[i]
            self.prev_fails -= self.fails[i]
            self.prev_slow -= self.slows[i]
            self.calls[i] = self.fails[i] = self.slows[i] = 0
        self.head = bucket
        self.bucket_end = (bucket + 1) * self.width

    def rebase(self, offset: float) -> None:
        """The clock was swapped: move every time kept by ``offset`` seconds."""
        if self.bucket_end != float("-inf"):
            rings = (self.calls, self.fails, self.slows)
            self.head = rebase_ring(rings, self.head, self.width, offset)
            self.bucket_end = (self.head + 1) * self.width
        self.run_ends = deque((end + offset for end in self.run_ends), self.run_ends.maxlen)

    def reset(self, now: float) -> None:
        """Forget every count (a transition to closed, shadow trips), keeping the shape."""
        for i in range(self.n_buckets):
            self.calls[i] = self.fails[i] = self.slows[i] = 0
        self.cur_calls = self.cur_fails = self.cur_slow = 0
        self.prev_calls = self.prev_fails = self.prev_slow = 0
        self.consec = 0
        self.run_ends.clear()
        self.head = int(now // self.width)
        self.bucket_end = (self.head + 1) * self.width

    def record(self, end: float, failed: bool, slow: bool) -> None:
        """One call that ended at ``end``."""
        if end >= self.bucket_end:
            self.roll(end)
        self.cur_calls += 1
        if failed:
            self.cur_fails += 1
            if self.consec == 0:  # a success (maybe on the fast path) ended the last run
                self.run_ends.clear()
            self.consec += 1
            self.run_ends.append(end)
        else:
            self.consec = 0
        if slow:
            self.cur_slow += 1

    def totals(self) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the window."""
        return (
            self.prev_calls + self.cur_calls,
            self.prev_fails + self.cur_fails,
            self.prev_slow + self.cur_slow,
        )

    def rates(self) -> tuple[float, float]:
        """(failure rate, slow-call rate); both 0 when the window is empty."""
        calls, fails, slow = self.totals()
        if calls <= 0:
            return 0.0, 0.0
        return fails / calls, slow / calls
