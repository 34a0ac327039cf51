"""Fuzz run (issue 9), outside CI: schemathesis over every operation of the contract, plus the
property-based tests of the request parsers with many examples.

1. schemathesis (4.x, ``schemathesis.openapi.from_path``) loads ``openapi/videomock.yaml`` when it
   exists and generates at least ``--cases`` test cases (default 5 000) spread over every operation,
   positive and negative data (``--negative`` share). Each case is sent to an in-process simulator on
   127.0.0.1 and checked with schemathesis' standard checks. The dialects run on one simulator (a
   fast clock, tasks that finish at once, videos that never expire); the control API runs on its own
   (fuzzing it adds fault rules, stops the clock, resets). Both simulators check their own responses
   against the contract too, and record any internal error.
2. ``tests/test_parsers_property.py`` with ``VIDEOMOCK_FUZZ_EXAMPLES`` examples per property
   (``--property-examples``, default 2 000).

Printed: cases per operation, failures by check and operation (first example of each), server
errors and contract violations recorded inside the simulators, and the property run's result.
Target: zero server errors, zero contract violations. The exit status is 0 whatever was found
(``--strict`` makes it 1 on any finding). Loopback only; it stops by itself.

    .venv/bin/python bench/fuzz.py [--cases 5000] [--negative 0.3] [--property-examples 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mockserver.config import DEFAULT_API_KEY  # noqa: E402
from mockserver.server import ServerThread  # noqa: E402

CONTRACT = ROOT / "openapi" / "videomock.yaml"
#: Every task reaches its end within the one simulated second it spends "submitted".
INSTANT = {"models": {"*": {"queued": 0, "generating": 0}}}


def _failure_lines(exc: BaseException) -> list[str]:
    """One line per check failure in ``exc`` (a schemathesis Failure or FailureGroup, or anything else)."""
    inner = getattr(exc, "exceptions", None)
    if inner:
        return [line for sub in inner for line in _failure_lines(sub)]
    title = getattr(exc, "title", None) or type(exc).__name__
    message = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return [f"{title}: {message[0][:160] if message else ''}"]


def _fuzzer(strategy, count: int, seed: int, label: str, base_url: str, session: requests.Session,
            sent: Counter[str], failures: Counter[str], examples: dict[str, str]):
    """A hypothesis test that sends ``count`` cases of ``strategy`` and records every check failure."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    @hypothesis_seed(seed)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case) -> None:
        sent[label] += 1
        try:
            case.call_and_validate(base_url=base_url, session=session, timeout=30)
        except (Exception, BaseExceptionGroup) as exc:  # recorded, not raised: generation goes on, nothing shrinks
            for line in _failure_lines(exc):
                key = f"{line.split(':', 1)[0]} | {label}"
                failures[key] += 1
                if key not in examples:
                    try:
                        examples[key] = f"{line}\n          {case.as_curl_command()}"
                    except Exception:  # a case schemathesis cannot print as curl
                        examples[key] = line

    return fuzz


def run_schemathesis(args: argparse.Namespace) -> tuple[int, Counter[str], list[str]]:
    """Generate and send the cases; returns (cases sent, failures by 'check | operation', server-side errors)."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig.from_dict({"seed": args.seed, "generation": {"database": "none"},
                                           "auth": {"openapi": {"bearerAuth": {"bearer": DEFAULT_API_KEY}}}})
    schema = schemathesis.openapi.from_path(CONTRACT, config=config)
    if args.include:
        schema = schema.include(path_regex=args.include)
    operations = []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as exc:  # an operation the loader cannot use: report it, go on with the others
            print(f"  skipped an operation schemathesis could not load: {exc}")
    print(f"schemathesis {schemathesis.__version__}: {len(operations)} operations; {args.cases} cases in all, "
          f"{args.negative:.0%} of them negative where the operation has inputs to break", flush=True)

    failures: Counter[str] = Counter()
    examples: dict[str, str] = {}
    sent: Counter[str] = Counter()
    server_errors: list[str] = []
    with ServerThread(seed=args.seed, speed=10_000.0, scenarios=INSTANT, ttl=1e9, validate_responses=True,
                      max_tasks=10**6) as api, ServerThread(seed=args.seed, validate_responses=True) as control, \
            requests.Session() as session:
        session.trust_env = False  # loopback only, whatever proxies the environment names
        started = time.monotonic()
        # Rounds: an operation with few possible inputs (no parameters) is exhausted at once; the
        # budget it leaves goes to the others in the next round, with another seed.
        active = [(op, f"{op.method.upper()} {op.path}") for op in operations]
        for round_number in range(10):
            missing = args.cases - sum(sent.values())
            if missing <= 0 or not active:
                break
            budget = math.ceil(missing / len(active))
            negative = round(budget * args.negative)
            still = []
            for operation, label in active:
                base_url = control.base_url if operation.path.startswith("/_videomock/") else api.base_url
                before = sent[label]
                for mode, count in ((GenerationMode.POSITIVE, budget - negative), (GenerationMode.NEGATIVE, negative)):
                    if count <= 0:
                        continue
                    try:
                        strategy = operation.as_strategy(generation_mode=mode)
                        _fuzzer(strategy, count, args.seed + round_number, label, base_url, session, sent, failures,
                                examples)()
                    except Exception as exc:  # e.g. Unsatisfiable: no negative data exists for this operation
                        if "Unsatisfiable" not in type(exc).__name__:
                            print(f"  {label} {mode}: {type(exc).__name__}: {str(exc)[:160]}")
                if sent[label] - before >= 0.9 * (budget - negative):
                    still.append((operation, label))
            active = still
            print(f"  round {round_number + 1}: {sum(sent.values())} cases so far", flush=True)
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            print(f"  {label:55} {sent[label]:5d} cases")
        server_errors = [*api.errors, *control.errors]
        elapsed = time.monotonic() - started
    total = sum(sent.values())
    print(f"\nschemathesis: {total} cases in {elapsed:.0f} s over {len(sent)} operations")
    for key, count in failures.most_common():
        print(f"  {count:5d} x {key}\n          e.g. {examples[key]}")
    return total, failures, server_errors


def run_properties(examples: int) -> int:
    """Run the parser properties with ``examples`` examples each; returns pytest's exit status."""
    env = {**os.environ, "VIDEOMOCK_FUZZ_EXAMPLES": str(examples)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
               str(ROOT / "tests" / "test_parsers_property.py")]
    print(f"\nproperty tests: {examples} examples per property", flush=True)
    started = time.monotonic()
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    tail = finished.stdout.strip().splitlines()[-15:]
    print("\n".join(f"  {line}" for line in tail))
    print(f"property tests: exit status {finished.returncode} in {time.monotonic() - started:.0f} s")
    return finished.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000, help="schemathesis cases in all (default 5000)")
    parser.add_argument("--negative", type=float, default=0.3, help="share of negative cases (default 0.3)")
    parser.add_argument("--property-examples", type=int, default=2000,
                        help="examples per parser property (default 2000; 0 skips them)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generation (default 1)")
    parser.add_argument("--include", metavar="REGEX", default=None,
                        help="fuzz only the operations whose path matches REGEX (e.g. '^/v1/videos')")
    parser.add_argument("--strict", action="store_true", help="exit 1 when anything was found")
    args = parser.parse_args()

    findings = 0
    if CONTRACT.is_file():
        total, failures, server_errors = run_schemathesis(args)
        server_failures = sum(n for key, n in failures.items() if key.startswith("Server error"))
        violations = [e for e in server_errors if "Contract violation" in e or "contract" in e.lower()]
        print(f"\nserver errors (5xx seen by schemathesis): {server_failures}")
        print(f"errors recorded inside the simulators: {len(server_errors)} "
              f"({len(violations)} contract violations)")
        for error in server_errors[:5]:
            print("  " + error.strip().splitlines()[0][:200])
        print(f"check failures: {sum(failures.values())} ({len(failures)} distinct check/operation pairs); "
              f"cases {total} (target >= {args.cases})")
        findings += sum(failures.values()) + len(server_errors)
    else:
        print(f"{CONTRACT} does not exist yet: schemathesis skipped")
    if args.property_examples > 0:
        findings += run_properties(args.property_examples) != 0
    print(f"\nfindings: {findings} (target 0)")
    sys.exit(1 if args.strict and findings else 0)


if __name__ == "__main__":
    main()
