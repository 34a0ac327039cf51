"""The pytest plugin as a user's suite sees it, run with pytester in a separate pytest session."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_fixture_marker_and_assertion_helpers(pytester):
    pytester.makepyfile('''
        import pytest, requests

        BODY = {"model": "wanx-video-v1", "prompt": "A dragon", "duration": 3}

        def poll(videomock, task_id):
            return requests.get(f"{videomock.base_url}/v1/video/generations/{task_id}",
                                headers={"Authorization": f"Bearer {videomock.api_key}"}, timeout=10).json()

        @pytest.mark.videomock(clock="manual")
        def test_lifecycle(videomock):
            r = requests.post(f"{videomock.base_url}/v1/video/generations", json=BODY,
                              headers={"Authorization": f"Bearer {videomock.api_key}"}, timeout=10)
            task_id = r.json()["task_id"]
            assert poll(videomock, task_id)["status"] == "submitted"
            videomock.advance(10)
            poll(videomock, task_id)
            videomock.advance(600)
            assert poll(videomock, task_id)["status"] == "succeeded"
            videomock.assert_polled(task_id, times=3)
            videomock.assert_poll_interval(task_id, at_least=10)
            assert videomock.poll_gaps(task_id) == [10, 600]

        def test_state_is_fresh_for_each_test(videomock):
            assert [t["id"] for t in videomock.tasks()] == ["video_69095b4ce0048190893a01510c0c98b0", "video_xxx"]
            videomock.assert_no_requests()

        @pytest.mark.videomock(clock="manual", scenario="content_policy")
        def test_marker_scenario(videomock):
            r = requests.post(f"{videomock.base_url}/v1/video/generations", json=BODY,
                              headers={"Authorization": f"Bearer {videomock.api_key}"}, timeout=10)
            videomock.advance(600)
            assert poll(videomock, r.json()["task_id"])["status"] == "failed"

        @pytest.mark.videomock(faults=[{"match": {"operation": "gateway:query_task"}, "status": 429, "retry_after": 1}])
        def test_marker_faults(videomock):
            assert requests.get(f"{videomock.base_url}/v1/video/generations/video_xxx",
                                headers={"Authorization": f"Bearer {videomock.api_key}"}, timeout=10).status_code == 429

        @pytest.mark.videomock(profile="new-api", clock="manual")
        def test_marker_profile_gets_its_own_server(videomock):
            body = poll(videomock, "video_xxx")
            assert body["code"] == "success" and body["data"]["status"] == "SUCCESS"

        def test_helper_failure_message_lists_the_exchanges(videomock):
            poll(videomock, "video_xxx")
            with pytest.raises(AssertionError) as excinfo:
                videomock.assert_polled("video_xxx", at_least=2)
            assert "polled 1 times, expected at least 2" in str(excinfo.value)
            assert "GET    /v1/video/generations/video_xxx  -> 200" in str(excinfo.value)
            with pytest.raises(AssertionError, match="no download of task video_xxx used Range"):
                videomock.assert_download_used_range("video_xxx")
    ''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


def test_server_errors_fail_the_test_that_caused_them(pytester):
    pytester.makepyfile('''
        import requests

        def test_breaks_the_server(videomock):
            # Break the simulator from inside: a task without a lifecycle plan.
            videomock.server.backend.find("video_xxx").plan = None
            r = requests.get(f"{videomock.base_url}/v1/video/generations/download?id=video_xxx",
                             headers={"Authorization": f"Bearer {videomock.api_key}"}, timeout=10)
            assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"

        def test_next_test_is_clean(videomock):
            assert videomock.server_errors() == []
    ''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)  # the call passed; the teardown reports the server error
    result.stdout.fnmatch_lines(["*the videomock simulator failed while serving this test*", "*AttributeError*"])


def test_overriding_the_config_fixture(pytester):
    pytester.makeconftest('''
        import pytest

        @pytest.fixture(scope="session")
        def videomock_config():
            return {"api_keys": ("sk-mine",), "manual_clock": True}
    ''')
    pytester.makepyfile('''
        def test_key(videomock):
            assert videomock.api_key == "sk-mine"
            assert videomock.server.clock.manual
    ''')
    pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_bad_marker_is_a_usage_error(pytester):
    pytester.makepyfile('''
        import pytest

        @pytest.mark.videomock(colour="red")
        def test_x(videomock):
            pass
    ''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*unknown options*colour*"])
