"""Route resolution remembered for the reads a client repeats: a status poll resolves its route once.

aiohttp's ``Application`` resolves the route of every request afresh (``Application._handle``): it
walks the path's prefixes in the router's index, matches the route's pattern, unquotes the
variable parts, builds a ``UrlMappingMatchInfo`` and freezes it. For a status poll that is about
a tenth of the simulator's CPU instructions (bench/README.md, "Resolved routes"). Which route
answers is a function of the method and the request target alone while the router is frozen (it
is, once serving starts) and the app has no sub-application (whose middlewares aiohttp chains per
request, and which may be chosen by the Host header). So
:class:`ResolvedRoutes` keeps, for a ``GET`` or ``HEAD`` of an API route, the frozen match that
aiohttp's own handler made for the first request to that target, and hands it to the next
request for the same target. Everything else goes to aiohttp's handler unchanged: a first request,
a request with ``Expect``, another method, and a path only the catch-all route matches. Which route
answers, and what the handler sees in ``request.match_info`` and ``request.app``, stay aiohttp's.

One attribute outside aiohttp's public API is used: ``web.Request._match_info``, which
``Application._handle`` sets (aiohttp 3.0 onwards) and ``request.match_info`` returns;
tests/test_routing.py compares every remembered match with aiohttp's own resolution.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

#: How many request targets (path and query as sent) one server remembers per method (GET, HEAD).
RESOLVED_LIMIT = 4096

RequestHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class ResolvedRoutes:
    """A request handler for aiohttp's ``web.Server``, in front of the app's own (``Application._handle``).

    Install it with :func:`install` (``mockserver.server`` does, for ``videomock serve``, the
    ``ServerThread`` and the pytest plugin's fixture). An app run another way (``aiohttp.web.run_app``,
    pytest-aiohttp) resolves every request the usual way and answers the same.

    Args:
        handler: aiohttp's handler for the app (``runner.server.request_handler``): resolves, then calls the route.
        limit: The most request targets remembered per method; past it, the oldest is forgotten first.
    """

    def __init__(self, handler: RequestHandler, limit: int = RESOLVED_LIMIT) -> None:
        self._handler = handler
        self._limit = limit
        #: Per method, the request target (``raw_path``: path and query as sent) and its frozen match.
        self._resolved: dict[str, dict[str, web.UrlMappingMatchInfo]] = {hdrs.METH_GET: {}, hdrs.METH_HEAD: {}}

    def __len__(self) -> int:
        """How many request targets are remembered now, all methods together."""
        return sum(map(len, self._resolved.values()))

    def lookup(self, method: str, target: str) -> web.UrlMappingMatchInfo | None:
        """The match remembered for ``method`` and ``target`` (``raw_path``), or None."""
        table = self._resolved.get(method)
        return None if table is None else table.get(target)

    def __call__(self, request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        """Answer ``request`` through its route: the remembered match when there is one, else aiohttp's handler.

        A plain function returning the awaitable that answers, so a remembered route adds no coroutine of its own.
        """
        table = self._resolved.get(request.method)
        if table is None:
            return self._handler(request)
        target = request.raw_path
        match_info = table.get(target)
        if match_info is None or hdrs.EXPECT in request.headers:
            return self._resolve(request, table, target)
        # What Application._handle sets: the same route and variable parts, frozen, this app current.
        request._match_info = match_info  # type: ignore[attr-defined]
        return match_info.handler(request)

    async def _resolve(self, request: web.BaseRequest, table: dict[str, web.UrlMappingMatchInfo],
                       target: str) -> web.StreamResponse:
        """Call aiohttp's handler (it resolves the route), then remember the match it made for ``target``."""
        response = await self._handler(request)
        self._remember(table, target, request)
        return response

    def _remember(self, table: dict[str, web.UrlMappingMatchInfo], target: str, request: web.BaseRequest) -> None:
        match_info: web.UrlMappingMatchInfo | None = getattr(request, "_match_info", None)
        # Not an error match (404/405: a new exception per request), not the catch-all route (unnamed).
        if match_info is None or match_info.http_exception is not None or match_info.route.name is None:
            return
        if target not in table:
            if len(table) >= self._limit:
                del table[next(iter(table))]  # dicts keep insertion order: the first key is the oldest
            table[target] = match_info


def install(server: web.Server, app: web.Application, limit: int = RESOLVED_LIMIT) -> bool:
    """Put :class:`ResolvedRoutes` in front of ``server``'s handler; before the server accepts connections.

    Args:
        server: ``runner.server`` of a ``web.AppRunner`` for ``app``, after ``runner.setup()``.
        app: The app it serves.
        limit: See :class:`ResolvedRoutes`.

    Returns:
        Whether it was installed: not when ``app`` has aiohttp middlewares (a remembered match would
        skip them) or a sub-application (its middlewares, and with ``add_domain`` the Host header).
    """
    if app.middlewares or any(isinstance(resource, web.PrefixedSubAppResource) for resource in app.router.resources()):
        return False
    server.request_handler = ResolvedRoutes(server.request_handler, limit)
    return True
