"""Scenarios, faults, the clock and the control API, each observed by a real HTTP client."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time

import pytest
import requests
from aiohttp.test_utils import make_mocked_request

from mockserver.config import ServerConfig
from mockserver.control import _allowed
from mockserver.keys import JOURNAL
from mockserver.server import ServerThread

VEO = {"model": "veo-3.1-fast-generate-preview", "prompt": "A sailboat", "durationSeconds": 4}


def make(**overrides) -> ServerThread:
    overrides.setdefault("manual_clock", True)
    overrides.setdefault("seed", 42)
    return ServerThread(**overrides)


def session(server: ServerThread, key: str | None = None) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key or server.api_key}"
    return s


def submit(server, http, body=VEO, **kwargs) -> str:
    response = http.post(f"{server.base_url}/v1/video/generations", json=body, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


def status(server, http, task_id) -> dict:
    return http.get(f"{server.base_url}/v1/video/generations/{task_id}", timeout=10).json()


def control(server, method, path, **kwargs):
    response = requests.request(method, f"{server.base_url}/_videomock/{path}", timeout=10, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


# --- selection, most specific first --------------------------------------------------------------


def test_selection_order_header_prompt_key_queue_default():
    scenarios = {"default": "timeout", "keys": {"sk-key": "internal"}}
    with make(api_keys=("sk-xxxxxxxxxx", "sk-key"), scenarios=scenarios) as server:
        plain, keyed = session(server), session(server, "sk-key")
        control(server, "POST", "scenarios/next", json={"scenario": "stall", "count": 2})
        cases = {
            "header": submit(server, keyed, {**VEO, "prompt": "x [videomock scenario=timeout]"},
                             headers={"X-Videomock-Scenario": "content_policy"}),
            "prompt": submit(server, keyed, {**VEO, "prompt": "x [videomock scenario=content_policy]"}),
            "api_key": submit(server, keyed),
            "queue": submit(server, plain),
            "queue again": submit(server, plain),
            "default": submit(server, plain),
        }
        server.clock.advance(600)
        seen = {name: status(server, plain, task_id) for name, task_id in cases.items()}
        assert seen["header"]["error"]["code"] == "content_policy_violation"
        assert seen["prompt"]["error"]["code"] == "content_policy_violation"
        assert seen["api_key"]["error"]["code"] == "internal_error"
        assert seen["queue"]["status"] == seen["queue again"]["status"] == "in_progress"
        assert seen["default"]["error"]["code"] == "generation_timeout"
        sources = {t["id"]: t["scenario_source"] for t in control(server, "GET", "tasks")}
        assert [sources[cases[n]] for n in cases] == ["header", "prompt", "api_key", "queue", "queue", "default"]


def test_failure_rate_and_kinds_from_the_file():
    scenarios = {"models": {"veo": {"failure_rate": 1.0, "failure_kinds": {"timeout": 1}}}}
    with make(scenarios=scenarios) as server:
        http = session(server)
        veo_id = submit(server, http)
        wan_id = submit(server, http, {"model": "wanx-video-v1", "prompt": "x"})
        server.clock.advance(600)
        assert status(server, http, veo_id)["error"]["code"] == "generation_timeout"
        assert status(server, http, wan_id)["status"] == "succeeded", "the rule applies to its family only"


def test_model_timings_from_the_file():
    with make(scenarios={"models": {"*": {"queued": 1, "generating": 5}}}) as server:
        http = session(server)
        task_id = submit(server, http)
        server.clock.advance(2.5)
        assert status(server, http, task_id)["status"] == "in_progress"
        server.clock.advance(5)
        assert status(server, http, task_id)["status"] == "succeeded"


# --- scripted lifecycles -----------------------------------------------------------------------


def test_fail_at_forty_percent(client, server):
    task_id = submit(server, client, headers={"X-Videomock-Scenario": "fail-at-40"})
    progress = []
    for _ in range(80):
        body = status(server, client, task_id)
        progress.append(body["progress"])
        server.clock.advance(1)
    assert body["status"] == "failed" and body["progress"] == 40 and max(progress) == 40


def test_stall_forever(client, server):
    task_id = submit(server, client, headers={"X-Videomock-Scenario": "stall"})
    server.clock.advance(10**7)
    assert status(server, client, task_id)["status"] == "in_progress"


def test_complete_then_expire_early(client, server):
    task_id = submit(server, client, headers={"X-Videomock-Scenario": "expire-early"})
    server.clock.advance(46)  # 1 s submitted + 3 s queued + 41 s generating
    url = status(server, client, task_id)["url"]
    assert client.get(url).status_code == 200
    server.clock.advance(61)
    response = client.get(url)
    assert response.status_code == 404 and response.json()["error"]["code"] == "video_expired"


def test_progress_stalls_then_resumes(client, server):
    task_id = submit(server, client, headers={"X-Videomock-Scenario": "stall-then-resume"})
    server.clock.advance(1 + 3 + 41 * 50 / 99 + 1)
    assert status(server, client, task_id)["progress"] == 50
    server.clock.advance(100)
    assert status(server, client, task_id)["progress"] == 50, "stalled for 120 s"
    server.clock.advance(30)
    resumed = status(server, client, task_id)
    assert resumed["status"] == "in_progress" and resumed["progress"] > 50
    server.clock.advance(60)
    assert status(server, client, task_id)["status"] == "succeeded"


def test_custom_script_over_http(client, server):
    control(server, "POST", "scenarios", json={"name": "late-fail", "script": {"fail_at": 90, "error": "timeout"}})
    task_id = submit(server, client, headers={"X-Videomock-Scenario": "late-fail"})
    server.clock.advance(600)
    body = status(server, client, task_id)
    assert body["progress"] == 90 and body["error"]["code"] == "generation_timeout"
    bad = requests.post(f"{server.base_url}/_videomock/scenarios", json={"name": "x", "script": {"fail_at": 120}},
                        timeout=10)
    assert bad.status_code == 400 and "fail_at" in bad.json()["error"]["message"]


# --- faults ------------------------------------------------------------------------------------


def test_no_configuration_no_fault(client, server):
    for _ in range(20):
        assert client.get("/v1/video/generations/video_xxx").status_code == 200
    assert all(entry["fault"] is None for entry in control(server, "GET", "journal"))


@pytest.mark.parametrize("status_code", [500, 502, 503, 504, 401, 403])
def test_respond_with_any_status(client, server, status_code):
    control(server, "POST", "faults", json={"match": {"operation": "gateway:query_task"}, "status": status_code})
    response = client.get("/v1/video/generations/video_xxx")
    assert response.status_code == status_code
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}, "the dialect's envelope"


def test_429_with_retry_after_on_the_nth_request(client, server):
    control(server, "POST", "faults", json={"match": {"operation": "gateway:query_task", "nth": [2, 3]},
                                            "status": 429, "retry_after": 2.5})
    codes = [client.get("/v1/video/generations/video_xxx") for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 429, 429, 200]
    assert codes[1].headers["Retry-After"] == "2" and codes[1].headers["retry-after-ms"] == "2500"
    assert codes[1].json()["error"]["code"] == "rate_limit_exceeded"


def test_custom_body_model_and_key_match_and_times():
    with make(api_keys=("sk-a", "sk-b")) as server:
        control(server, "POST", "faults", json={"match": {"model": "wanx-video-v1", "api_key": "sk-b"},
                                                "status": 418, "body": {"teapot": True}, "times": 1})
        a, b = session(server, "sk-a"), session(server, "sk-b")
        wan = {"model": "wanx-video-v1", "prompt": "x"}
        assert a.post(f"{server.base_url}/v1/video/generations", json=wan, timeout=10).status_code == 200
        assert b.post(f"{server.base_url}/v1/video/generations", json=VEO, timeout=10).status_code == 200
        first = b.post(f"{server.base_url}/v1/video/generations", json=wan, timeout=10)
        assert first.status_code == 418 and first.json() == {"teapot": True}
        assert b.post(f"{server.base_url}/v1/video/generations", json=wan, timeout=10).status_code == 200
        rules = control(server, "GET", "faults")
        assert rules[0]["fired"] == 1 and rules[0]["match"]["api_key"].startswith("sk-b")


def test_seeded_probability_is_deterministic():
    patterns = []
    for _ in range(2):
        with make() as server:
            control(server, "POST", "faults", json={"match": {"probability": 0.5}, "status": 503})
            http = session(server)
            patterns.append([http.get(f"{server.base_url}/v1/video/generations/video_xxx", timeout=10).status_code
                             for _ in range(30)])
    assert patterns[0] == patterns[1] and {200, 503} == set(patterns[0])


def test_malformed_json(client, server):
    control(server, "POST", "faults", json={"match": {"operation": "gateway:query_task"}, "action": "malformed_json"})
    response = client.get("/v1/video/generations/video_xxx")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()


@pytest.mark.parametrize("latency", [0.2, {"fixed": 0.2}, {"uniform": [0.2, 0.3]},
                                     {"lognormal": {"mu": -1.5, "sigma": 0.1}}])
def test_latency(client, server, latency):
    control(server, "POST", "faults", json={"match": {"path": "/v1/video/generations/*"}, "latency": latency})
    started = time.perf_counter()
    assert client.get("/v1/video/generations/video_xxx").status_code == 200
    assert time.perf_counter() - started >= 0.19


def _media_url(server, http) -> str:
    task_id = submit(server, http, {"model": "wanx-video-v1", "prompt": "x", "duration": 3})
    server.clock.advance(600)
    return status(server, http, task_id)["url"]


def test_slow_body(client, server):
    url = _media_url(server, client)
    size = len(client.get(url).content)
    control(server, "POST", "faults", json={"match": {"dialect": "media"}, "action": "slow_body",
                                            "bytes_per_second": size * 2})
    started = time.perf_counter()
    assert len(client.get(url).content) == size
    assert time.perf_counter() - started >= 0.45


def test_body_truncated_at_byte_n(client, server):
    url = _media_url(server, client)
    control(server, "POST", "faults", json={"match": {"dialect": "media"}, "action": "truncate", "at_byte": 1000})
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="1000 bytes read"):
        client.get(url)
    entry = control(server, "GET", "journal", params={"operation": "media"})[-1]
    assert entry["fault"] == "fault_1" and entry["status"] == 0


def test_connection_reset(client, server):
    control(server, "POST", "faults", json={"match": {}, "action": "reset"})
    with pytest.raises(requests.exceptions.ConnectionError, match="reset"):
        client.get("/v1/video/generations/video_xxx")


def test_hang_then_close_without_answer(server):
    control(server, "POST", "faults", json={"match": {}, "action": "hang", "seconds": 0.3})
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    started = time.perf_counter()
    connection.request("GET", "/v1/video/generations/video_xxx", headers={"Authorization": "Bearer sk-xxxxxxxxxx"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    assert time.perf_counter() - started >= 0.29


def test_hang_outlasts_a_client_timeout(server):
    control(server, "POST", "faults", json={"match": {}, "action": "hang", "seconds": 5})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{server.base_url}/v1/video/generations/video_xxx", timeout=0.3)


def test_invalid_fault_rule_is_400(server):
    response = requests.post(f"{server.base_url}/_videomock/faults", json={"action": "explode"}, timeout=10)
    assert response.status_code == 400 and "respond" in response.json()["error"]["message"]


def test_fault_rules_from_the_scenario_file_fire():
    scenarios = {"faults": [{"match": {"operation": "gateway:submit_task"}, "status": 503, "times": 1}]}
    with make(scenarios=scenarios) as server:
        http = session(server)
        assert http.post(f"{server.base_url}/v1/video/generations", json=VEO, timeout=10).status_code == 503
        assert http.post(f"{server.base_url}/v1/video/generations", json=VEO, timeout=10).status_code == 200


# --- clock, tasks, journal, reset, access ------------------------------------------------------


def test_clock_read_advance_and_speed(server):
    before = control(server, "GET", "clock")
    assert before["manual"] is True
    after = control(server, "POST", "clock/advance", json={"seconds": 90})
    assert after["now"] == pytest.approx(before["now"] + 90)
    assert control(server, "POST", "clock/speed", json={"speed": 60, "manual": False})["speed"] == 60
    time.sleep(0.1)
    assert control(server, "GET", "clock")["now"] >= after["now"] + 3
    bad = requests.post(f"{server.base_url}/_videomock/clock/advance", json={"seconds": -1}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "seconds"


def test_force_succeed_fail_expire(client, server):
    first, second, third = (submit(server, client) for _ in range(3))
    assert control(server, "POST", f"tasks/{first}/succeed")["status"] == "succeeded"
    assert status(server, client, first)["url"]
    failed = control(server, "POST", f"tasks/{second}/fail", json={"error": "content_policy"})
    assert failed["status"] == "failed" and failed["error"]["code"] == "content_policy_violation"
    assert control(server, "POST", f"tasks/{third}/expire")["expired"] is True
    response = client.get("/v1/video/generations/download", params={"id": "video_xxx"})
    assert response.status_code == 200
    control(server, "POST", "tasks/video_xxx/expire")
    assert client.get("/v1/video/generations/download", params={"id": "video_xxx"}).status_code == 404
    inspected = control(server, "GET", f"tasks/{first}")
    assert inspected["model"] == VEO["model"] and inspected["plan"][0]["status"] == "submitted"
    assert requests.get(f"{server.base_url}/_videomock/tasks/nope", timeout=10).status_code == 404


def test_a_poll_follows_a_plan_replaced_in_place(client, server):
    # Repeated polls of an unchanged task reuse one rendered body; a control call that replaces the
    # task's plan shows in the very next poll, in both dialects.
    task_id = submit(server, client)
    first, again = status(server, client, task_id), status(server, client, task_id)
    assert first == again and first["status"] == "submitted"
    assert client.get(f"/v1/videos/{task_id}").json()["status"] == "queued"
    control(server, "POST", f"tasks/{task_id}/fail", json={"error": "content_policy"})
    failed = status(server, client, task_id)
    assert failed["status"] == "failed" and failed["error"]["code"] == "content_policy_violation"
    video = client.get(f"/v1/videos/{task_id}").json()
    assert video["status"] == "failed" and video["error"]["code"] == "content_policy_violation"


def test_journal_filters_and_har_export_redact_keys(client, server):
    task_id = submit(server, client)
    status(server, client, task_id)
    client.get("/v1/video/generations/nope")
    entries = control(server, "GET", "journal", params={"task_id": task_id})
    assert [e["operation"] for e in entries] == ["gateway:submit_task", "gateway:query_task"]
    assert entries[0]["request_body"]["model"] == VEO["model"]
    assert entries[0]["response_body"]["task_id"] == task_id
    assert control(server, "GET", "journal", params={"status": 404})[0]["path"] == "/v1/video/generations/nope"
    har = control(server, "GET", "journal", params={"format": "har"})
    assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) == 3
    dumped = str(har) + str(entries)
    assert "sk-xxxxxxxxxx" not in dumped and "[redacted]" in dumped
    control(server, "POST", "reset", json={"journal_only": True})
    assert control(server, "GET", "journal") == []
    assert status(server, client, task_id)["task_id"] == task_id, "a journal reset keeps tasks"


def test_journal_keeps_each_requests_own_headers_when_equal_ones_are_shared(client, server):
    # Headers equal to the last recorded ones are kept once (Journal.last_headers); every entry must
    # still show exactly what its own request sent, including after a journal reset.
    task_id = submit(server, client)
    sent = ["a", "b", "a", "a", "b"]
    for value in sent:
        client.get(f"/v1/video/generations/{task_id}", headers={"X-Trace": value})
    client.get(f"/v1/videos/{task_id}", headers={"X-Trace": "b"})
    entries = control(server, "GET", "journal", params={"task_id": task_id})[1:]
    assert [e["request_headers"]["X-Trace"] for e in entries] == [*sent, "b"]
    assert [e["path"] for e in entries] == [f"/v1/video/generations/{task_id}"] * 5 + [f"/v1/videos/{task_id}"]
    assert all(e["request_headers"]["Authorization"] == "[redacted]" for e in entries)
    journal = server.app[JOURNAL]
    assert journal.entries[-1].request_headers is journal.entries[-2].request_headers, "equal headers kept once"
    assert journal.entries[-3].request_headers is not journal.entries[-2].request_headers
    control(server, "POST", "reset", json={"journal_only": True})
    assert journal.last_headers is None
    client.get(f"/v1/video/generations/{task_id}", headers={"X-Trace": "c"})
    (entry,) = control(server, "GET", "journal")
    assert entry["request_headers"]["X-Trace"] == "c"


def test_reset_everything(client, server):
    task_id = submit(server, client)
    control(server, "POST", "faults", json={"match": {"nth": 99}, "status": 500})
    control(server, "POST", "reset")
    assert client.get(f"/v1/video/generations/{task_id}").status_code == 404
    assert control(server, "GET", "faults") == []
    assert client.get("/v1/video/generations/video_xxx").status_code == 200, "documented tasks come back"
    assert submit(server, client) != task_id, "IDs are never reused"


def test_health(server):
    assert control(server, "GET", "health")["status"] == "ok"


def test_control_answers_off_loopback_only_with_its_token():
    app = ServerThread(control_token="s3cret").app
    outside = make_mocked_request("GET", "/_videomock/health", app=app, transport=_Transport("192.0.2.10"))
    assert not _allowed(outside)
    with_token = make_mocked_request("GET", "/_videomock/health", app=app, transport=_Transport("192.0.2.10"),
                                     headers={"X-Videomock-Token": "s3cret"})
    assert _allowed(with_token)
    no_token_configured = ServerThread(config=ServerConfig()).app
    assert not _allowed(make_mocked_request("GET", "/_videomock/health", app=no_token_configured,
                                            transport=_Transport("192.0.2.10")))


class _Transport:
    """Stands in for a socket transport, to give a request an off-loopback peer address."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default=None):
        return (self.peer, 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False


def test_python_api_is_the_same_controls(server, client):
    task_id = submit(server, client)
    server.control.advance(600)
    assert server.control.task(task_id)["status"] == "succeeded"
    server.control.add_fault({"match": {}, "status": 503})
    assert client.get(f"/v1/video/generations/{task_id}").status_code == 503
    server.control.clear_faults()
    server.control.enqueue("content_policy")
    failing = submit(server, client)
    server.control.force(failing, "fail", error="content_policy")
    assert status(server, client, failing)["status"] == "failed"
    assert server.control.entries(task_id=task_id)[0]["operation"] == "gateway:submit_task"


# --- determinism -------------------------------------------------------------------------------


def _session_transcript() -> list[dict]:
    scenarios = {"models": {"*": {"failure_rate": 0.5}},
                 "faults": [{"match": {"probability": 0.3, "operation": "gateway:query_task"}, "status": 503}]}
    with make(scenarios=scenarios, seed=2024) as server:
        http = session(server)
        ids = [submit(server, http, {**VEO, "prompt": f"prompt {n}"}) for n in range(6)]
        for _ in range(8):
            for task_id in ids:
                http.get(f"{server.base_url}/v1/video/generations/{task_id}", timeout=10)
            server.clock.advance(7)
        for task_id in ids:
            body = status(server, http, task_id)
            if body.get("url"):
                http.get(body["url"], timeout=10)
        entries = server.control.entries()
    start = entries[0]["at"]
    for entry in entries:
        entry["at"] -= start
        for key in ("wall", "duration_ms"):
            entry.pop(key)
        entry["response_headers"].pop("Date", None)
        entry["request_headers"].pop("Host", None)
        if isinstance(entry["response_body"], dict) and "url" in entry["response_body"]:
            entry["response_body"]["url"] = entry["response_body"]["url"].split("/", 3)[3]  # drop host:port
    return entries


def test_same_seed_same_session_same_journal():
    first, second = _session_transcript(), _session_transcript()
    assert first == second
    assert any(e["fault"] for e in first) and any(e["status"] == 200 for e in first)
    outcomes = {e["response_body"].get("status") for e in first if isinstance(e["response_body"], dict)}
    assert {"failed", "succeeded"} <= outcomes


def test_serve_loads_a_scenario_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("default: content_policy\nmodels: {'*': {queued: 1, generating: 2}}\n")
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0", "--speed", "100",
                                "--config", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = process.stdout.readline().split()[-1]
        http = requests.Session()
        http.headers["Authorization"] = "Bearer sk-xxxxxxxxxx"
        task_id = http.post(f"{base}/v1/video/generations", json=VEO, timeout=10).json()["task_id"]
        time.sleep(0.2)
        assert http.get(f"{base}/v1/video/generations/{task_id}", timeout=10).json()["status"] == "failed"
    finally:
        process.terminate()
        process.communicate(timeout=20)
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: nope\n")
    result = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--port", "0", "--config", str(bad)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "nope" in result.stderr


def test_bundled_scenario_files_load():
    from mockserver.fixtures_data import fixtures_dir, load

    for path in sorted((fixtures_dir() / "scenarios").iterdir()):
        with make(scenarios=load(f"scenarios/{path.name}")) as server:
            assert control(server, "GET", "health")["status"] == "ok"


@pytest.mark.parametrize(("mode", "expected"), [("202", 202), ("json200", 200)])
def test_not_ready_fault_on_the_content_endpoint(client, server, mode, expected):
    created = client.post("/v1/videos", json={"prompt": "A cat", "seconds": "4"}).json()
    control(server, "POST", f"tasks/{created['id']}/succeed")
    assert client.get(f"/v1/videos/{created['id']}/content").headers["Content-Type"] == "video/mp4"
    control(server, "POST", "faults", json={"match": {"operation": "openai:retrieve_video_content"},
                                            "action": "not_ready", "mode": mode})
    response = client.get(f"/v1/videos/{created['id']}/content")
    assert response.status_code == expected
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()  # a JSON body, never video bytes


def test_journal_records_each_requests_method_and_task_id_on_every_kind_of_route(client, server):
    # The status polls take the direct path, whose method and task-ID key are bound per route; the
    # catch-all (any method) and a route without a task in its path read them from the request.
    task_id = submit(server, client)
    status(server, client, task_id)
    client.get(f"/v1/videos/{task_id}")
    client.request("PATCH", f"/v1/videos/{task_id}")  # a known path with the wrong method: 405
    client.request("PATCH", "/v1/nowhere")  # an unknown path: 404
    client.get("/v1/video/generations/download", params={"id": task_id})  # the task ID in the query
    entries = control(server, "GET", "journal")[1:]
    assert [(e["operation"], e["method"], e["status"], e["task_id"]) for e in entries] == [
        ("gateway:query_task", "GET", 200, task_id), ("openai:retrieve_video", "GET", 200, task_id),
        ("", "PATCH", 405, None), ("", "PATCH", 404, None),
        ("gateway:download_video", "GET", 404, task_id)]  # a Veo task: no download (seed 000: Sora 2 only)


def test_journal_records_file_answers_with_their_final_status(client, server):
    url = _media_url(server, client)
    assert client.get(url).status_code == 200
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    entries = control(server, "GET", "journal", params={"operation": "media:serve_media"})
    assert [e["status"] for e in entries] == [200, 206]
    assert entries[1]["response_headers"]["Content-Range"].startswith("bytes 0-9/")
