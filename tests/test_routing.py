"""Resolved routes (mockserver.routing): a remembered route answers exactly as aiohttp's own resolution."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from yarl import URL

from mockserver.app import create_app
from mockserver.keys import CONFIG, JOURNAL
from mockserver.routing import ResolvedRoutes, install
from mockserver.server import _start

EXAMPLE = "video_69095b4ce0048190893a01510c0c98b0"  # a documented example task (seed 003), preloaded

# (method, request target, the route that answers it: its name, or None for the catch-all)
TARGETS = [
    ("GET", f"/v1/video/generations/{EXAMPLE}", "gateway:query_task"),
    ("GET", "/v1/video/generations/download?id=video_unknown", "gateway:download_video"),  # plain route first
    ("GET", f"/v1/videos/{EXAMPLE}", "openai:retrieve_video"),
    ("HEAD", f"/v1/videos/{EXAMPLE}", "openai:retrieve_video"),
    ("GET", f"/v1/videos/{EXAMPLE}/content?variant=thumbnail", "openai:retrieve_video_content"),
    ("GET", f"/v1/videos/{EXAMPLE}/content?variant=video", "openai:retrieve_video_content"),
    ("GET", "/v1/videos?limit=1&order=asc", "openai:list_videos"),
    ("GET", "/v1/videos/edits", "openai:retrieve_video"),  # POST-only route: a GET is a video ID (404)
    ("GET", f"/v1/videos/video%5F{EXAMPLE[6:]}", "openai:retrieve_video"),  # unquoted to the example's ID
    ("GET", "/v1/videos/characters/char_1", "openai:get_video_character"),
    ("GET", "/_videomock/health", "control:health"),
    ("GET", "/v1/video/generations/a/b", None),
    ("GET", "/nope", None),
    ("DELETE", "/v1/videos/video_unknown", "openai:delete_video"),  # not a read: never remembered
]


class Counting:
    """aiohttp's own handler, counting the requests it resolves."""

    def __init__(self, handler: Any) -> None:
        self.handler, self.calls = handler, 0

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        self.calls += 1
        return await self.handler(request)


async def serve(app: web.Application, **limit: int) -> tuple[web.AppRunner, str, bool]:
    """Serve ``app`` on 127.0.0.1, a free port: aiohttp's handler counted, :func:`install` in front of it.

    ``limit`` is passed on to :func:`install`. Returns the runner, the base URL and what :func:`install` returned.
    """
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    assert runner.server is not None
    runner.server.request_handler = Counting(runner.server.request_handler)
    installed = install(runner.server, app, **limit)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}", installed


def authorized(app: web.Application, base_url: str) -> aiohttp.ClientSession:
    """A client session for ``base_url`` that sends ``app``'s first API key."""
    return aiohttp.ClientSession(base_url, headers={"Authorization": f"Bearer {app[CONFIG].api_keys[0]}"})


@pytest.fixture
async def served() -> AsyncIterator[tuple[web.Application, ResolvedRoutes, Counting, aiohttp.ClientSession]]:
    """The simulator with ResolvedRoutes in front of aiohttp's (counted) handler, and a session with its API key."""
    app = create_app(manual_clock=True, seed=1234)
    runner, base_url, installed = await serve(app)
    assert installed
    assert runner.server is not None
    routes = runner.server.request_handler
    assert isinstance(routes, ResolvedRoutes)
    aiohttp_handler = routes._handler
    assert isinstance(aiohttp_handler, Counting)
    try:
        async with authorized(app, base_url) as session:
            yield app, routes, aiohttp_handler, session
    finally:
        await runner.cleanup()


async def test_the_server_installs_it():
    app = create_app(manual_clock=True)
    runner, _ = await _start(app, "127.0.0.1", 0)  # as videomock serve, ServerThread and the plugin start it
    try:
        assert runner.server is not None
        assert isinstance(runner.server.request_handler, ResolvedRoutes)
    finally:
        await runner.cleanup()


async def answer(session: aiohttp.ClientSession, method: str, target: str,
                 **kwargs: Any) -> tuple[int, bytes, dict[str, str]]:
    async with session.request(method, URL(target, encoded=True), **kwargs) as response:  # sent as written
        headers = {name: value for name, value in response.headers.items() if name != "Date"}
        return response.status, await response.read(), headers


@pytest.mark.parametrize(("method", "target", "route"), TARGETS)
async def test_a_remembered_route_is_the_one_aiohttp_resolves(served, method, target, route):
    app, routes, aiohttp_handler, session = served
    first = await answer(session, method, target)
    second = await answer(session, method, target)  # through the remembered route, when there is one
    assert second == first
    resolved = await app.router.resolve(make_mocked_request(method, target, app=app))
    assert resolved.route.name == route
    remembered = routes.lookup(method, target)
    if route is None or method not in ("GET", "HEAD") or first[0] >= 400:
        # The catch-all, writes and error answers go to aiohttp every time.
        assert remembered is None
        assert aiohttp_handler.calls == 2
        return
    assert aiohttp_handler.calls == 1  # the second request did not go through aiohttp's resolution
    assert remembered == (resolved.route, dict(resolved))
    if route.startswith("control:"):
        return  # control calls are not journaled
    for _ in range(100):  # a file answer is recorded once sent, which may be just after the client has it
        entries = [entry for entry in app[JOURNAL].entries if entry.target == target and entry.method == method]
        if len(entries) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(entries) == 2
    assert [(entry.operation, entry.task_id, entry.status) for entry in entries] == \
        [(route, EXAMPLE if "{" in resolved.route.resource.canonical else None, first[0])] * 2


async def test_each_request_gets_a_match_of_its_own():
    app = create_app(manual_clock=True, seed=1234)
    seen: list[web.UrlMappingMatchInfo] = []

    async def keep(request: web.Request, response: web.StreamResponse) -> None:
        seen.append(request.match_info)

    app.on_response_prepare.append(keep)
    runner, base_url, installed = await serve(app)
    assert installed
    assert runner.server is not None
    aiohttp_handler = runner.server.request_handler._handler  # type: ignore[attr-defined]
    target = f"/v1/videos/{EXAMPLE}"
    try:
        async with authorized(app, base_url) as session:
            for _ in range(3):
                assert (await answer(session, "GET", target))[0] == 200
    finally:
        await runner.cleanup()
    assert aiohttp_handler.calls == 1
    assert len(seen) == 3 and len({id(match) for match in seen}) == 3  # on_response_prepare ran for each
    assert all(dict(match) == {"video_id": EXAMPLE} and match.apps == (app,) and match.current_app is app
               for match in seen)


async def test_what_is_not_remembered(served):
    _, routes, aiohttp_handler, session = served
    target = f"/v1/videos/{EXAMPLE}"
    async with session.get(URL(target), headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401
    long_target = f"{target}?pad={'x' * 600}"
    for _ in range(2):
        assert (await answer(session, "GET", long_target))[0] == 200
    assert routes.lookup("GET", target) is None  # the 401 is not remembered
    assert routes.lookup("GET", long_target) is None
    assert aiohttp_handler.calls == 3


async def test_a_repeated_poll_follows_the_task_not_the_first_answer(served):
    _, routes, _, session = served
    async with session.post("/v1/videos", json={"prompt": "a cat", "seconds": "4"}) as created:
        assert created.status == 200, await created.text()
        video_id = (await created.json())["id"]
    target = f"/v1/videos/{video_id}"

    async def status() -> tuple[int, str]:
        async with session.get(target) as response:
            return response.status, (await response.json()).get("status", "")

    assert await status() == (200, "queued")
    assert routes.lookup("GET", target) is not None
    async with session.post(f"/_videomock/tasks/{video_id}/succeed") as forced:
        assert forced.status == 200
    assert await status() == (200, "completed")  # the route is remembered, the answer is the task's now
    async with session.delete(target) as deleted:
        assert deleted.status == 200
    assert (await status())[0] == 404


async def test_a_request_with_expect_goes_through_aiohttp(served):
    _, routes, aiohttp_handler, session = served
    target = f"/v1/videos/{EXAMPLE}"
    plain = await answer(session, "GET", target)
    assert routes.lookup("GET", target) is not None
    assert await answer(session, "GET", target, expect100=True) == plain
    assert aiohttp_handler.calls == 2


async def test_the_first_remembered_target_is_forgotten_past_the_limit():
    app = create_app(manual_clock=True, seed=1234)
    runner, base_url, installed = await serve(app, limit=2)
    assert installed
    assert runner.server is not None
    routes = runner.server.request_handler
    assert isinstance(routes, ResolvedRoutes)
    targets = [f"/v1/videos/{EXAMPLE}?n={n}" for n in range(3)]
    try:
        async with authorized(app, base_url) as session:
            for target in targets:
                assert (await answer(session, "GET", target))[0] == 200
            await answer(session, "HEAD", targets[0])
    finally:
        await runner.cleanup()
    assert [routes.lookup("GET", target) is not None for target in targets] == [False, True, True]
    assert routes.lookup("HEAD", targets[0]) is not None
    assert len(routes) == 3  # the limit is per method


@web.middleware
async def tagged(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    response.headers["X-Tagged"] = "1"
    return response


async def test_not_installed_in_front_of_middlewares_or_sub_apps():
    with_middleware = create_app(manual_clock=True)
    with_middleware.middlewares.append(tagged)
    runner, base_url, installed = await serve(with_middleware)
    assert not installed
    try:
        async with aiohttp.ClientSession(base_url) as session:
            for _ in range(2):  # the middleware runs on every request, the repeated one too
                async with session.get("/_videomock/health") as response:
                    assert response.headers["X-Tagged"] == "1"
    finally:
        await runner.cleanup()
    for add in ("add_subapp", "add_domain"):
        with_sub_app = create_app(manual_clock=True)
        getattr(with_sub_app, add)("/sub" if add == "add_subapp" else "example.com", web.Application())
        runner, _, installed = await serve(with_sub_app)
        await runner.cleanup()
        assert not installed, add
