"""Exploratory OpenAPI fuzzing of the API server: long, random, remembering what it found.

The CI test (``tests/apiserver/test_openapi_fuzz.py``) sends the same few derandomised cases per
operation on every run; this run explores: fresh random cases (``--seed`` to replay a run, printed at
the start), many examples per operation and generation mode, failing cases shrunk to a minimal
example, and an example database (``--db``, default ``.hypothesis/fuzz-api``) that replays every
failure it found before ahead of new cases. Same driver, same checks (schemathesis
``not_a_server_error`` over every group-version ``/openapi/v3`` document), same in-process server on a
loopback port. Exits 1 when any operation answered a 5xx; ``--json`` writes the failures.

    python bench/fuzz_api.py --examples 50 --minutes 20
    python bench/fuzz_api.py --only apis/apps/v1 --seed 1234
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402
from tests.apiserver.openapi_fuzz import fuzz, threaded_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=50, help="cases per operation and mode (default 50)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, printed)")
    parser.add_argument("--minutes", type=float, default=30.0, help="stop starting new operations after this")
    parser.add_argument("--only", default=None, help="one group-version document, e.g. api/v1")
    parser.add_argument("--db", default=str(ROOT / ".hypothesis" / "fuzz-api"), help="example database dir")
    parser.add_argument("--modes", default="positive,negative", help="generation modes (comma-separated)")
    parser.add_argument("--json", default=None, help="write the failures here as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-operation progress lines")
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"fuzz_api: seed={seed} examples={args.examples} budget={args.minutes}min db={args.db}", flush=True)
    with tempfile.TemporaryDirectory(prefix="kyb-fuzz-") as tmp, threaded_server(Path(tmp)) as url:
        report = fuzz(
            url,
            examples=args.examples,
            derandomize=False,
            seed=seed,
            database=DirectoryBasedExampleDatabase(args.db),
            modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
            shrink=True,
            time_budget=args.minutes * 60,
            only=args.only,
            progress=not args.quiet,
        )
    statuses = Counter(key.rsplit(" ", 1)[-1] for key in report.answers.elements())
    print(
        f"fuzz_api: {report.operations} operations, {report.cases} cases in {report.seconds:.0f}s "
        f"(requests {report.request_seconds:.0f}s); answers by status: {dict(sorted(statuses.items()))}"
    )
    for failure in report.failures:
        print(f"\nFAIL {failure.operation} [{failure.mode}]\n{failure.message}")
    if args.json:
        Path(args.json).write_bytes(
            orjson.dumps(
                {"seed": seed, "failures": [f.__dict__ for f in report.failures]}, option=orjson.OPT_INDENT_2
            )
        )
    print(f"fuzz_api: {len(report.failures)} failing operation(s); replay with --seed {seed}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
