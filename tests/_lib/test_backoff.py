"""The shared back-off: the formula, the jittered retry sequence and the per-key delays, with exact numbers."""

from __future__ import annotations

import random

import pytest

from kybernetes._lib.backoff import Backoff, KeyedBackoff, exponential


def test_exponential_doubles_from_base_to_cap() -> None:
    assert [exponential(0.005, 1000.0, n) for n in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert exponential(10.0, 360.0, 5) == 320.0
    assert exponential(10.0, 360.0, 6) == 360.0
    assert exponential(1.0, 10.0, 10_000) == 10.0  # no overflow for absurd step counts


def test_backoff_sequence_caps_and_resets_after_quiet_period() -> None:
    now = [0.0]
    b = Backoff(0.8, 30.0, jitter=0.0, reset_after=120.0, clock=lambda: now[0])
    delays = []
    for _ in range(8):
        delays.append(b.next_delay())
        now[0] += 1.0
    assert delays == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    now[0] += 121.0
    assert b.next_delay() == 0.8
    b.reset()
    assert b.next_delay() == 0.8


def test_backoff_jitter_stays_within_factor() -> None:
    b = Backoff(1.0, 30.0, jitter=1.0, rng=random.Random(7), clock=lambda: 0.0)
    first = b.next_delay()
    assert 1.0 <= first < 2.0


def test_keyed_backoff_per_key_doubling_window_and_reset() -> None:
    kb = KeyedBackoff(10.0, 300.0, reset_after=600.0)
    assert [kb.next("a", t) for t in (0.0, 10.0, 20.0)] == [10.0, 20.0, 40.0]
    assert kb.get("b") == 0.0 and kb.next("b", 20.0) == 10.0  # keys are independent
    assert kb.in_backoff_since("a", 20.0, 50.0) and kb.remaining("a", 20.0, 50.0) == pytest.approx(10.0)
    assert not kb.in_backoff_since("a", 20.0, 61.0)
    for t in range(30, 200, 10):
        kb.next("a", float(t))
    assert kb.get("a") == 300.0
    assert kb.next("a", 1000.0) == 10.0  # quiet for longer than reset_after
    kb.forget_prefix("a")
    assert kb.last_update("a") is None and kb.last_update("b") == 20.0
