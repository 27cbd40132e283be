"""The sliding window: call, failure and slow-call counts over the last ``window`` seconds.

Time-bucketed (``buckets`` buckets of ``window / buckets`` seconds), so old failures age out
at bucket granularity. Completed buckets live in rings and are summed in ``prev_*``; the
current bucket is plain integers, so the breaker's success path touches no list. Not locked
itself: the breaker's lock guards every use.
"""

from __future__ import annotations


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
        "slow_duration",
        "slows",
        "width",
    )

    def __init__(self, window: float, buckets: int, slow_duration: float) -> None:
        self.consec = 0
        self.n_buckets = 0
        self.width = 0.0
        self.slow_duration = slow_duration
        self.reshape(window, buckets)

    def reshape(self, window: float, buckets: int) -> None:
        """Take a new length or bucket count; the counts start afresh if either changed."""
        width = window / buckets
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

    def reset(self, now: float) -> None:
        """Forget every count (a transition to closed, shadow trips), keeping the shape."""
        for i in range(self.n_buckets):
            self.calls[i] = self.fails[i] = self.slows[i] = 0
        self.cur_calls = self.cur_fails = self.cur_slow = 0
        self.prev_calls = self.prev_fails = self.prev_slow = 0
        self.consec = 0
        self.head = int(now // self.width)
        self.bucket_end = (self.head + 1) * self.width

    def record(self, end: float, failed: bool, slow: bool) -> None:
        """One call that ended at ``end``."""
        if end >= self.bucket_end:
            self.roll(end)
        self.cur_calls += 1
        if failed:
            self.cur_fails += 1
            self.consec += 1
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
