"""`videomock serve` as a user runs it: a real process, its announcement, a request, a clean stop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import requests


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
    assert match, (first, process.stderr.read() if process.poll() is not None else "")
    return process, match.group(0)


def test_serve_announces_url_and_key_answers_and_stops_on_sigterm():
    process, base_url = start("--speed", "60", "--seed", "3")
    try:
        announcement = "".join(process.stdout.readline() for _ in range(3))
        assert "sk-xxxxxxxxxx" in announcement and f"{base_url}/v1" in announcement
        headers = {"Authorization": "Bearer sk-xxxxxxxxxx"}
        response = requests.get(f"{base_url}/v1/video/generations/video_69095b4ce0048190893a01510c0c98b0",
                                headers=headers, timeout=10)
        assert response.json()["status"] == "succeeded"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "videomock stopped" in out


def test_serve_stops_on_ctrl_c_and_takes_custom_keys():
    process, base_url = start("--api-key", "sk-mine", "--no-examples")
    try:
        ok = requests.get(f"{base_url}/v1/video/generations/video_xxx", headers={"Authorization": "Bearer sk-mine"},
                          timeout=10)
        assert ok.status_code == 404, "--no-examples leaves the documented IDs out"
        denied = requests.get(f"{base_url}/v1/video/generations/video_xxx",
                              headers={"Authorization": "Bearer sk-xxxxxxxxxx"}, timeout=10)
        assert denied.status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_non_loopback_bind_warns():
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--host", "0.0.0.0", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "not loopback" in process.stderr.readline()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_bad_port_is_refused_before_binding():
    process = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--port", "-1"],
                             capture_output=True, text=True, timeout=20)
    assert process.returncode == 2 and "--port" in process.stderr


def test_unknown_profile_is_refused():
    process = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--profile", "nope"],
                             capture_output=True, text=True, timeout=20)
    assert process.returncode == 2 and "new-api" in process.stderr


def test_readme_lists_every_deviation_and_its_checks():
    from pathlib import Path

    from mockserver.deviations import DEVIATIONS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for deviation in DEVIATIONS.values():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{deviation.name}` |")), None)
        assert row is not None, deviation.name
        assert all(f"`{check}`" in row for check in deviation.caught_by), row
