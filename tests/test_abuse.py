"""Abuse (issue 9): every over-limit request gets 4xx in the envelope, never a 5xx or a hung worker;
URLs are never fetched; API keys never reach logs, the journal or HAR exports.

All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from mockserver.server import ServerThread

KEY = "sk-xxxxxxxxxx"
AUTH = {"Authorization": f"Bearer {KEY}"}


def envelope(response: requests.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture(scope="module")
def limited() -> Iterator[ServerThread]:
    with ServerThread(manual_clock=True, max_body_bytes=64 * 1024, max_part_bytes=2048, max_form_parts=8,
                      body_timeout=0.5) as server:
        yield server
        assert not server.errors, server.errors


@pytest.fixture
def session(limited: ServerThread) -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers.update(AUTH)
        yield http


def test_body_larger_than_the_limit_is_413_json_and_multipart(limited, session):
    big = "x" * (70 * 1024)
    envelope(session.post(f"{limited.base_url}/v1/video/generations", json={"model": "sora-2", "prompt": big},
                          timeout=10), 413, "request_too_large")
    envelope(session.post(f"{limited.base_url}/v1/videos", files={"input_reference": ("a.png", big, "image/png")},
                          data={"prompt": "p"}, timeout=10), 413, "request_too_large")


def test_prompt_longer_than_32000_characters_is_400_in_both_dialects():
    with ServerThread(manual_clock=True) as server, requests.Session() as http:
        http.headers.update(AUTH)
        prompt = "a" * 32_001
        gateway = http.post(f"{server.base_url}/v1/video/generations", json={"model": "sora-2", "prompt": prompt},
                            timeout=10)
        assert envelope(gateway, 400)["param"] == "prompt"
        assert envelope(http.post(f"{server.base_url}/v1/videos", json={"prompt": prompt}, timeout=10),
                        400)["param"] == "prompt"


def test_too_many_form_parts_and_too_large_parts_are_413(limited, session):
    url = f"{limited.base_url}/v1/videos"
    many = [(f"field{i}", (None, "v")) for i in range(9)]
    assert "form fields" in envelope(session.post(url, files=many, timeout=10), 413, "request_too_large")["message"]
    urlencoded = session.post(url, data={f"field{i}": "v" for i in range(9)}, timeout=10)
    envelope(urlencoded, 413, "request_too_large")
    file_part = session.post(url, data={"prompt": "p"}, files={"input_reference": ("a.png", b"\x89" * 3000)},
                             timeout=10)
    assert envelope(file_part, 413, "request_too_large")["param"] == "input_reference"
    text_part = session.post(url, files={"prompt": (None, "é" * 1100)}, timeout=10)  # 2200 bytes, 1100 characters
    assert envelope(text_part, 413, "request_too_large")["param"] == "prompt"
    fine = session.post(url, files={"prompt": (None, "a fox"), "input_reference": ("a.png", b"\x89PNG" * 100)},
                        timeout=10)
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize("path", ["/v1/video/generations", "/v1/videos", "/_videomock/faults"])
def test_json_nested_deeper_than_python_recurses_is_400_and_the_journal_stays_readable(limited, session, path):
    response = session.post(f"{limited.base_url}{path}", data="[" * 5000, timeout=10,
                            headers={"Content-Type": "application/json"})
    envelope(response, 400, "invalid_json")
    assert requests.get(f"{limited.base_url}/_videomock/journal?format=har", timeout=10).status_code == 200


def test_oversized_headers_get_aiohttps_400_never_a_5xx(limited, session):
    huge_value = session.get(f"{limited.base_url}/v1/videos", headers={"X-Big": "a" * 9000}, timeout=10)
    huge_line = session.get(f"{limited.base_url}/v1/videos?q={'a' * 9000}", timeout=10)
    too_many = session.get(f"{limited.base_url}/v1/videos", headers={f"X-H{i}": "1" for i in range(200)},
                           timeout=10)
    for response in (huge_value, huge_line, too_many):
        assert response.status_code == 400, response.status_code
    assert session.get(f"{limited.base_url}/v1/videos", timeout=10).status_code == 200, "still serving"
    with ServerThread(manual_clock=True, max_header_bytes=16384) as roomy:
        assert requests.get(f"{roomy.base_url}/v1/videos", headers={**AUTH, "X-Big": "a" * 9000},
                            timeout=10).status_code == 200


def _trickle(port: int, path: str, content_type: str, first: bytes, length: int = 1000) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
                 f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n".encode() + first)
    return sock


def _read_response(sock: socket.socket, *, check_closed: bool = False) -> tuple[int, dict, bool]:
    data = b""
    while True:
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"Content-Length: (\d+)", head)
        if length and len(body) >= int(length.group(1)):
            break
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a full response: {data!r}"
        data += chunk
    closed = check_closed and sock.recv(1) == b""
    return int(head.split()[1]), json.loads(body), closed


@pytest.mark.parametrize(("path", "content_type", "first"), [
    ("/v1/video/generations", "application/json", b'{"model": "sora-2", "pro'),
    ("/v1/videos", "multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="pro'),
    ("/v1/videos", "application/json", b""),
])
def test_a_body_trickling_past_the_deadline_gets_408_and_blocks_no_one(limited, path, content_type, first):
    sock = _trickle(limited.port, path, content_type, first)
    started = time.monotonic()
    try:
        other = requests.get(f"{limited.base_url}/v1/videos", headers=AUTH, timeout=5)
        assert other.status_code == 200 and time.monotonic() - started < 0.4, "other clients are served meanwhile"
        sock.sendall(b"m")  # still trickling
        status, body, closed = _read_response(sock, check_closed=True)
    finally:
        sock.close()
    assert status == 408 and body["error"]["code"] == "request_timeout"
    assert 0.45 < time.monotonic() - started < 3
    assert closed, "the connection is closed after a 408"


def test_a_slow_body_that_arrives_within_the_deadline_is_served(limited):
    body = json.dumps({"prompt": "slow but fine"}).encode()
    sock = _trickle(limited.port, "/v1/videos", "application/json", body[:5], length=len(body))
    try:
        for start in range(5, len(body), 10):
            time.sleep(0.02)
            sock.sendall(body[start : start + 10])
        status, answer, _ = _read_response(sock)
    finally:
        sock.close()
    assert status == 200 and answer["object"] == "video"


@pytest.fixture
def trap() -> Iterator[tuple[str, socket.socket]]:
    """A listening socket on 127.0.0.1: any fetch of a URL pointing at it would be a connection here."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", listener
    listener.close()


def test_urls_in_requests_are_validated_and_never_fetched(trap):
    base, listener = trap
    image, video = f"{base}/image.png", f"{base}/video.mp4"
    bodies = [
        {"model": "sora-2", "prompt": "p", "image_url": image, "remix_url": video},
        {"model": "wanx-video-v1", "prompt": "p", "image_url": image},
        {"model": "seedance-1.0-pro", "prompt": "p", "first_frame": image, "last_frame": image,
         "reference_image": image},
        {"model": "veo-3.1-fast-generate-preview", "prompt": "p", "image": image, "lastFrameImage": image},
    ]
    with ServerThread(manual_clock=True) as server, requests.Session() as http:
        http.headers.update(AUTH)
        ids = []
        for body in bodies:
            answer = http.post(f"{server.base_url}/v1/video/generations", json=body, timeout=10)
            assert answer.status_code == 200, answer.text
            ids.append(answer.json()["task_id"])
        as_json = http.post(f"{server.base_url}/v1/videos",
                            json={"prompt": "p", "input_reference": {"image_url": image}}, timeout=10)
        as_form = http.post(f"{server.base_url}/v1/videos", files={"prompt": (None, "p"),
                                                                   "input_reference[image_url]": (None, image)},
                            timeout=10)
        ids += [as_json.json()["id"], as_form.json()["id"]]
        for bad in ("file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "//127.0.0.1/x", "127.0.0.1"):
            refused = http.post(f"{server.base_url}/v1/video/generations",
                                json={"model": "sora-2", "prompt": "p", "image_url": bad}, timeout=10)
            assert envelope(refused, 400)["param"] == "image_url", bad
            refused = http.post(f"{server.base_url}/v1/videos",
                                json={"prompt": "p", "input_reference": {"image_url": bad}}, timeout=10)
            assert envelope(refused, 400)["param"] == "input_reference.image_url", bad
        server.clock.advance(1_000)
        for task_id in ids:  # query, download: the whole life of each task
            http.get(f"{server.base_url}/v1/videos/{task_id}", timeout=10)
        assert http.get(f"{server.base_url}/v1/videos/{ids[-1]}/content", timeout=30).status_code == 200
        time.sleep(0.2)
    with pytest.raises(BlockingIOError):
        listener.accept()


SECRET = "sk-live-9f8e7d6c5b4a39281706"
WRONG = "sk-wrong-0123456789abcdef0123"


def test_api_keys_never_reach_logs_journal_or_har(caplog):
    caplog.set_level(logging.DEBUG)
    with ServerThread(manual_clock=True, api_keys=(SECRET,)) as server, requests.Session() as http:
        base = server.base_url
        ok = http.post(f"{base}/v1/videos", json={"prompt": "p"}, headers={"Authorization": f"Bearer {SECRET}"},
                       timeout=10)
        assert ok.status_code == 200
        wrong = http.get(f"{base}/v1/videos", headers={"Authorization": f"Bearer {WRONG}"}, timeout=10)
        assert wrong.status_code == 401
        http.get(f"{base}/v1/videos?api_key={SECRET}&key={WRONG}", headers={"X-Api-Key": SECRET}, timeout=10)
        http.post(f"{base}/_videomock/faults", json={"match": {"api_key": SECRET}, "status": 503}, timeout=10)
        http.get(f"{base}/v1/videos", headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)
        oversized = http.get(f"{base}/v1/videos", headers={"Authorization": f"Bearer {SECRET}{'x' * 9000}"},
                             timeout=10)
        assert oversized.status_code == 400  # aiohttp's refusal, logged without the header's content
        exports = [http.get(f"{base}/_videomock/journal", timeout=10).text,
                   http.get(f"{base}/_videomock/journal?format=har", timeout=10).text,
                   http.get(f"{base}/_videomock/faults", timeout=10).text,
                   json.dumps(server.control.entries()), json.dumps(server.control.har(base))]
        errors = "\n".join(server.errors)
    server_logs = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
                            if not record.name.startswith("urllib3"))  # the client's own log shows its URLs
    assert "LineTooLong" in server_logs, "the refusal of the oversized header was logged"
    for text in [*exports, server_logs, errors]:
        assert SECRET not in text and WRONG not in text
    assert "[redacted]" in exports[0] and "[redacted]" in exports[1]


def test_serve_never_prints_a_key_of_your_own():
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0", "--api-key", SECRET],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = "".join(process.stdout.readline() for _ in range(4))  # the announcement
        url = re.search(r"http://127\.0\.0\.1:\d+", first).group(0)
        for key in (SECRET, WRONG):
            requests.get(f"{url}/v1/videos", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert "not shown" in first
    assert SECRET not in first + out + err and WRONG not in first + out + err
