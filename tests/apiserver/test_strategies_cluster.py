"""CSR and APIService strategies: what each write may change."""

from __future__ import annotations

from kybernetes.api.registry import Registry
from kybernetes.apiserver.strategies import strategy_for

REG = Registry.builtin()
CSR = strategy_for(REG.get("certificates.k8s.io", "v1", "certificatesigningrequests"))  # type: ignore[arg-type]
API_SERVICE = strategy_for(REG.get("apiregistration.k8s.io", "v1", "apiservices"))  # type: ignore[arg-type]


def _csr(conditions: list[dict], certificate: str | None = None) -> dict:
    status: dict = {"conditions": conditions}
    if certificate:
        status["certificate"] = certificate
    return {"metadata": {"name": "c"}, "spec": {"request": "x", "signerName": "a.io/b"}, "status": status}


def test_create_drops_requester_identity_and_status() -> None:
    obj = _csr([{"type": "Approved", "status": "True"}])
    obj["spec"]["username"] = "someone-else"
    CSR.prepare_for_create(obj)
    assert obj["status"] == {} and "username" not in obj["spec"]


def test_status_write_keeps_approval_and_spec() -> None:
    old = _csr([{"type": "Approved", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}])
    new = _csr([{"type": "Failed", "status": "True"}], certificate="Y2VydA==")
    new["spec"]["signerName"] = "changed.io/x"
    CSR.prepare_for_subresource_update("status", new, old)
    assert [c["type"] for c in new["status"]["conditions"]] == ["Approved", "Failed"]
    assert new["status"]["certificate"] == "Y2VydA==" and new["spec"]["signerName"] == "a.io/b"
    assert new["status"]["conditions"][1]["lastUpdateTime"]


def test_approval_write_changes_conditions_only() -> None:
    old = _csr([], certificate="b2xk")
    new = _csr([{"type": "Approved", "status": "True"}], certificate="bmV3")
    CSR.prepare_for_subresource_update("approval", new, old)
    assert new["status"]["certificate"] == "b2xk"
    assert new["status"]["conditions"][0]["type"] == "Approved"
    assert new["status"]["conditions"][0]["lastTransitionTime"]


def test_main_resource_write_keeps_spec_and_status() -> None:
    old = _csr([{"type": "Approved", "status": "True"}])
    new = _csr([])
    new["spec"]["request"] = "other"
    CSR.prepare_for_update(new, old)
    assert new["status"] == old["status"] and new["spec"] == old["spec"]


def test_local_apiservice_is_available_on_create() -> None:
    obj = {"metadata": {"name": "v1.x.io"}, "spec": {"group": "x.io", "version": "v1"}, "status": {"x": 1}}
    API_SERVICE.prepare_for_create(obj)
    cond = obj["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Available", "True", "Local")
    remote = {"metadata": {"name": "v1.y.io"}, "spec": {"service": {"name": "s", "namespace": "n"}}}
    API_SERVICE.prepare_for_create(remote)
    assert remote["status"] == {}
