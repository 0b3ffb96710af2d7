"""The shared condition rules: lastTransitionTime moves only when the status changes."""

from __future__ import annotations

from typing import Any

from kybernetes.api import conditions as c


def _cond(ctype: str, status: str, reason: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": ctype, "status": status, "reason": reason, "lastTransitionTime": ts, **extra}


def test_get_by_type_and_is_true() -> None:
    status = {"conditions": [_cond("Ready", "True", "", "t0"), "junk", _cond("Failed", "False", "", "t0")]}
    assert c.get_condition(status, "Ready") == status["conditions"][0]
    assert c.get_condition(status, "Missing") is None and c.get_condition(None, "Ready") is None
    assert set(c.by_type(status)) == {"Ready", "Failed"}
    assert c.is_true(status, "Ready") and not c.is_true(status, "Failed") and not c.is_true({}, "Ready")


def test_set_keeps_transition_time_on_same_status_and_moves_it_on_a_flip() -> None:
    conds = [_cond("A", "True", "r1", "t0"), _cond("B", "True", "x", "t0")]
    assert not c.set_condition(conds, _cond("A", "True", "r1", "t1"))  # same status and reason: no-op
    assert c.set_condition(conds, _cond("A", "True", "r2", "t1", message="m"))
    assert conds[0] == _cond("A", "True", "r2", "t0", message="m")  # reason changed, time kept
    assert c.set_condition(conds, _cond("A", "False", "r2", "t2"))
    assert conds[0]["lastTransitionTime"] == "t2" and [x["type"] for x in conds] == ["A", "B"]
    assert c.set_condition(conds, _cond("A", "True", "r3", "t3"), to_end=True)
    assert [x["type"] for x in conds] == ["B", "A"]
    assert c.set_condition(conds, _cond("C", "True", "", "t4")) and conds[-1]["type"] == "C"


def test_set_with_no_same_fields_always_stores() -> None:
    conds = [_cond("A", "True", "r", "t0", message="old")]
    assert c.set_condition(conds, _cond("A", "True", "r", "t1", message="new"), same_when=())
    assert conds == [_cond("A", "True", "r", "t0", message="new")]


def test_transition_time_and_remove() -> None:
    prev = _cond("A", "True", "", "t0")
    assert c.transition_time(prev, "True", "now") == "t0"
    assert c.transition_time(prev, "False", "now") == "now"
    assert c.transition_time(None, "True", "now") == "now"
    assert c.transition_time({"status": "True"}, "True", "now") == "now"
    status = {"conditions": [prev]}
    c.remove_condition(status, "A")
    assert "conditions" not in status
