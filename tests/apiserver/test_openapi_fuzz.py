"""schemathesis over every group-version ``/openapi/v3`` document of a real server: no answer is a 5xx.

Each document is one test: every operation it declares (every verb, subresource and patch media type)
gets positive and negative cases (bodies of any JSON shape, wrong-typed fields, odd parameters), sent
over loopback HTTP and checked with schemathesis' ``not_a_server_error``. Writes are aimed at seeded
objects (``openapi_fuzz.SEEDS``), so PATCH/PUT bodies reach the decoder and the patch engines.

A second test per document is the deterministic shape phase (``openapi_fuzz.probe_shapes``): every
body-taking operation and media type, given top-level bodies of every non-object JSON type and each
documented field (and each ObjectMeta field) of a wrong type, must answer a 4xx Status that changed
nothing. Random cases rarely hit one given field with one given wrong type; this hits all of them (it
finds the 500s of issue 7 that the random run, at this budget, does not).

Bounded and reproducible: derandomised examples (the same cases on every run), no example database,
``EXAMPLES`` per operation and mode. The exploring run with fresh random cases is ``make fuzz``
(``bench/fuzz_api.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from kybernetes.api.registry import Registry
from tests.apiserver.openapi_fuzz import Report, fuzz, probe_shapes, threaded_server
from tests.conftest import fuzz_examples

EXAMPLES = fuzz_examples(1)


def _group_versions() -> list[str]:
    registry = Registry.builtin()
    return sorted(
        f"apis/{group}/{version}" if group else f"api/{version}"
        for group, versions in registry.groups().items()
        for version in versions
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with threaded_server(Path(tmp_path_factory.mktemp("openapi-fuzz"))) as url:
        yield url


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("group_version", _group_versions())
def test_no_operation_answers_a_server_error(
    server: str, reports: dict[str, Report], group_version: str
) -> None:
    report = fuzz(
        server,
        examples=EXAMPLES,
        derandomize=settings.default.derandomize,
        database=settings.default.database,
        only=group_version,
    )
    reports[group_version] = report
    assert report.operations > 0, f"{group_version}: the server documents no operation"
    assert report.cases >= report.operations, f"{group_version}: fewer cases than operations"
    assert not report.failures, "\n\n".join(f"{f.operation} [{f.mode}]\n{f.message}" for f in report.failures)


def test_the_fuzzer_reached_every_write_path(reports: dict[str, Report]) -> None:
    """The run above sent every patch type and got past the decoder: it is not fuzzing 404s only."""
    if len(reports) < len(_group_versions()):
        pytest.skip("runs after the per-document tests")
    answers: dict[str, int] = {}
    for report in reports.values():
        for key, count in report.answers.items():
            answers[key] = answers.get(key, 0) + count
    for media_type in (
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ):
        assert any(k.startswith(f"PATCH {media_type} ") for k in answers), (media_type, sorted(answers))
    # some writes went through and some were refused as bad input: the cases reach the real code
    assert any(k.startswith(("PUT", "PATCH")) and k.endswith(" 200") for k in answers), sorted(answers)
    assert any(k.endswith((" 400", " 422")) for k in answers), sorted(answers)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("group_version", _group_versions())
def test_every_body_of_the_wrong_shape_is_a_4xx_that_changes_nothing(server: str, group_version: str) -> None:
    report = probe_shapes(server, group_version)
    assert report.operations > 0 and report.cases > report.operations, (group_version, report)
    assert not report.failures, "\n".join(f"{f.operation}: {f.message}" for f in report.failures[:40])
