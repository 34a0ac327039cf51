"""Fixture benchmark: per-test overhead of the pytest plugin's function-scoped ``videomock`` fixture (issue 8).

A temporary directory gets N trivial tests (default 300) in each of several files: no fixture (the
baseline), the ``videomock`` fixture, and the peer's fixture: pytest-httpserver's ``httpserver``
(one session server, cleared per test), installed at run time with pip into ``bench/.peers/python``
(git-ignored; the venv is not touched), else, if that fails, a no-op function-scoped fixture, which
is always measured too. Each file runs in its own ``python -m pytest -q -p no:cacheprovider``
subprocess, with N tests and with 1 test, over several rounds; medians of wall time are used. Plugin
autoload is off and the two plugins are loaded by name (``-p``) in every run, the baseline included:
the venv's other plugins (hypothesis, schemathesis: ~2.5 s of start-up) are not what is measured;
``--autoload`` keeps them. Bytecode is cached (under the temp directory) as on a developer's machine.

- per test = (time with the fixture - baseline time) / N, session start-up amortised over N;
- session start-up = the same difference with 1 test (the session-scoped server starting and stopping);
- per test excl. start-up = (N-test difference - 1-test difference) / (N - 1).

Target: ``videomock`` <= 5 ms per test. Printed, never asserted: the exit status is 0.

    .venv/bin/python bench/fixture_overhead.py [--tests 300] [--rounds 5] [--peer auto] [--autoload]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent / ".peers" / "python"
TARGET_MS = 5.0
CONFTEST = '''import pytest


@pytest.fixture
def noop():
    return None
'''


def install_httpserver(tried: list[str]) -> bool:
    """pytest-httpserver importable from PEER_DIR (pip-installed there if needed)?"""
    if any(PEER_DIR.glob("pytest_httpserver-*.dist-info")):
        return True
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", str(PEER_DIR), "pytest-httpserver"]
    tried.append(" ".join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        tried.append(f"failed: {error}")
        return False
    if done.returncode != 0:
        tried.append(f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return done.returncode == 0 and any(PEER_DIR.glob("pytest_httpserver-*.dist-info"))


def write_tests(directory: Path, name: str, fixture: str | None, count: int) -> Path:
    path = directory / f"test_{name}_{count}.py"
    argument = fixture or ""
    path.write_text("".join(f"def test_{i}({argument}):\n    pass\n\n\n" for i in range(count)))
    return path


def run_pytest(paths: list[Path], env: dict[str, str], plugins: list[str]) -> float:
    """Wall seconds of one pytest subprocess over ``paths`` (interpreter start to exit)."""
    begin = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins,
                           *(path.name for path in paths)],
                          cwd=paths[0].parent, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - begin
    if done.returncode == 2:  # pytest's "interrupted": a Ctrl-C reached it first
        raise KeyboardInterrupt
    if done.returncode != 0:
        output = done.stdout[-1500:] + done.stderr[-500:]
        raise RuntimeError(f"pytest {paths[0].name} exited {done.returncode}:\n{output}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300, help="trivial tests per file (default 300)")
    parser.add_argument("--rounds", type=int, default=5, help="repeat every run; median (default 5)")
    parser.add_argument("--peer", choices=("auto", "httpserver", "noop"), default="auto",
                        help="auto: pytest-httpserver, pip-installed into bench/.peers/python; noop if that fails")
    parser.add_argument("--autoload", action="store_true", help="load every pytest plugin of the venv too")
    args = parser.parse_args()
    count = max(2, args.tests)

    tried: list[str] = []
    fixtures = {"baseline": None, "videomock": "videomock", "noop": "noop"}
    try:
        installed = args.peer != "noop" and install_httpserver(tried)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    if args.peer != "noop":
        if installed:
            fixtures["httpserver"] = "httpserver"
        else:
            print("pytest-httpserver unavailable, the peer is the no-op fixture; tried:\n  " + "\n  ".join(tried))
    peer = "httpserver" if "httpserver" in fixtures else "noop"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PEER_DIR), os.environ.get("PYTHONPATH")]))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode is cached (in the temp dir) as on a developer's machine
    plugins = [] if args.autoload else ["-p", "mockserver.pytest_plugin"]
    if not args.autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        plugins += ["-p", "pytest_httpserver.pytest_plugin"] if peer == "httpserver" else []

    try:
        with tempfile.TemporaryDirectory(prefix="videomock-fixture-bench-") as tmp:
            directory = Path(tmp)
            env["PYTHONPYCACHEPREFIX"] = str(directory / "pycache")  # nothing written into the project
            (directory / "pytest.ini").write_text("[pytest]\n")  # rootdir here: not the project's settings
            (directory / "conftest.py").write_text(CONFTEST)
            files = {(name, n): write_tests(directory, name, fixture, n)
                     for name, fixture in fixtures.items() for n in (1, count)}
            print(f"videomock fixture overhead: {count} trivial tests per file, {args.rounds} round(s), "
                  f"median wall time of `python -m pytest -q -p no:cacheprovider` per file; peer: {peer}"
                  + (f" (pytest-httpserver from {PEER_DIR})" if peer == "httpserver" else "")
                  + ("; all plugins of the venv autoloaded" if args.autoload else f"; plugins: {' '.join(plugins)}"))
            run_pytest([path for (_, n), path in files.items() if n == 1], env, plugins)  # warm-up: bytecode cache
            times: dict[tuple[str, int], list[float]] = {}
            for round_ in range(args.rounds):
                order = list(files.items())
                for key, path in order[::1 if round_ % 2 == 0 else -1]:
                    times.setdefault(key, []).append(run_pytest([path], env, plugins))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"a pytest run failed, no result: {error}")
        return 0

    median = {key: statistics.median(values) for key, values in times.items()}
    line = "  {:<11} {:>9} {:>9} {:>12} {:>12} {:>14}"
    print("\n" + line.format("fixture", "1 test s", f"{count} tests s", "per test ms", "start-up ms",
                             "excl. start ms"))
    per_test, per_test_excl = {}, {}
    for name in fixtures:
        one, many = median[name, 1], median[name, count]
        extra_one, extra_many = one - median["baseline", 1], many - median["baseline", count]
        per_test[name] = 1000 * extra_many / count
        per_test_excl[name] = 1000 * (extra_many - extra_one) / (count - 1)
        cells = ("-", "-", "-") if name == "baseline" else (
            f"{per_test[name]:.2f}", f"{1000 * extra_one:.0f}", f"{per_test_excl[name]:.2f}")
        print(line.format(name, f"{one:.2f}", f"{many:.2f}", *cells))
    print("  per test: (time - baseline) / N; start-up: the same with 1 test; excl. start: (N-test - 1-test"
          " difference) / (N-1). Differences below ~0.05 s are within run-to-run noise.")
    ratio = per_test["videomock"] / per_test[peer] if per_test[peer] > 0 else float("nan")
    print(f"  videomock/{peer} per test = {ratio:.2f}x (excl. start-up: "
          f"{per_test_excl['videomock']:.2f} ms vs {per_test_excl[peer]:.2f} ms)")
    print(f"videomock per-test overhead = {per_test['videomock']:.2f} ms (target <= {TARGET_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
