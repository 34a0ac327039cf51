"""Route resolution remembered for the reads a client repeats: a status poll resolves its route once.

aiohttp's ``Application`` resolves the route of every request afresh (``Application._handle``): it
walks the path's prefixes in the router's index, matches the route's pattern, unquotes the
variable parts, builds a ``UrlMappingMatchInfo`` and freezes it. For a status poll that is about
a tenth of the simulator's CPU instructions (bench/README.md, "Resolved routes"). Which route
answers is a function of the method and the request target alone while the router is frozen (it
is, once serving starts) and the app has no sub-application (whose middlewares aiohttp chains per
request, and which may be chosen by the Host header). So :class:`ResolvedRoutes` keeps, for a
``GET`` or ``HEAD`` of an API route that was answered without an error, the route and variable
parts aiohttp resolved for that request target, and gives the next request for the same target a
new match built from them, as ``Application._handle`` would have (each request its own, frozen,
with this app current). Everything else goes to aiohttp's handler unchanged: a first request, a
request with ``Expect``, another method, a target longer than :data:`TARGET_LIMIT`, and a path only
the catch-all route matches. Which route answers, and what the handler sees in
``request.match_info`` and ``request.app``, stay aiohttp's.

One attribute outside aiohttp's public API is used: ``web.Request._match_info``, which
``Application._handle`` sets (aiohttp 3.0 onwards) and ``request.match_info`` returns;
tests/test_routing.py compares every remembered route with aiohttp's own resolution.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import hdrs, web

#: How many request targets (path and query as sent) one server remembers per method (GET, HEAD).
RESOLVED_LIMIT = 4096
#: The longest request target remembered, in characters: the simulator's own URLs are under 200
#: (a signed media URL is the longest); a longer target is resolved by aiohttp every time.
TARGET_LIMIT = 512

RequestHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
#: What is remembered for one request target: its route and the variable parts aiohttp unquoted.
Resolved = tuple[web.AbstractRoute, Mapping[str, str]]


class ResolvedRoutes:
    """A request handler for aiohttp's ``web.Server``, in front of the app's own (``Application._handle``).

    Install it with :func:`install` (``mockserver.server`` does, for ``videomock serve``, the
    ``ServerThread`` and the pytest plugin's fixture). An app run another way (``aiohttp.web.run_app``,
    pytest-aiohttp) resolves every request the usual way and answers the same.

    Args:
        app: The app being served (see :func:`install` for which apps qualify).
        handler: aiohttp's handler for it (``runner.server.request_handler``): resolves, then calls the route.
        limit: The most request targets remembered per method; past it, the first remembered is forgotten.
    """

    def __init__(self, app: web.Application, handler: RequestHandler, limit: int = RESOLVED_LIMIT) -> None:
        self._app = app
        self._handler = handler
        self._limit = limit
        #: Per method, the request target (``raw_path``: path and query as sent) and what it resolved to.
        self._resolved: dict[str, dict[str, Resolved]] = {hdrs.METH_GET: {}, hdrs.METH_HEAD: {}}

    def __len__(self) -> int:
        """How many request targets are remembered now, all methods together."""
        return sum(map(len, self._resolved.values()))

    def lookup(self, method: str, target: str) -> Resolved | None:
        """The route and variable parts remembered for ``method`` and ``target`` (``raw_path``), or None."""
        table = self._resolved.get(method)
        return None if table is None else table.get(target)

    def __call__(self, request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        """Answer ``request`` through its route: the remembered one when there is one, else aiohttp's handler.

        A plain function returning the awaitable that answers, so a remembered route adds no coroutine of its own.
        """
        table = self._resolved.get(request.method)
        if table is None:
            return self._handler(request)
        target = request.raw_path
        resolved = table.get(target)
        if resolved is None or hdrs.EXPECT in request.headers:
            return self._resolve(request, table, target)
        route, parts = resolved
        # What Application._handle sets: a match of its own for this request, frozen, with this app current.
        match_info = web.UrlMappingMatchInfo(dict(parts), route)
        match_info.add_app(self._app)
        match_info.freeze()
        request._match_info = match_info  # type: ignore[attr-defined]
        return route.handler(request)

    async def _resolve(self, request: web.BaseRequest, table: dict[str, Resolved], target: str) -> web.StreamResponse:
        """Call aiohttp's handler (it resolves the route), then remember the route for ``target`` if it answered."""
        response = await self._handler(request)
        match_info: web.UrlMappingMatchInfo | None = getattr(request, "_match_info", None)
        # Not the catch-all route (unnamed) nor an error match (a new 404/405 exception per request);
        # not an error answer either: a client without a valid key, or probing unknown IDs, fills nothing.
        if match_info is None or match_info.http_exception is not None or match_info.route.name is None \
                or response.status >= 400 or len(target) > TARGET_LIMIT or target in table:
            return response
        if len(table) >= self._limit:
            del table[next(iter(table))]  # dicts keep insertion order: the first key was remembered first
        table[target] = (match_info.route, dict(match_info))
        return response


def install(server: web.Server, app: web.Application, limit: int = RESOLVED_LIMIT) -> bool:
    """Put :class:`ResolvedRoutes` in front of ``server``'s handler; before the server accepts connections.

    Args:
        server: ``runner.server`` of a ``web.AppRunner`` for ``app``, after ``runner.setup()``.
        app: The app it serves.
        limit: See :class:`ResolvedRoutes`.

    Returns:
        Whether it was installed: not when ``app`` has aiohttp middlewares (a remembered route would
        skip them) or a sub-application (its middlewares, and with ``add_domain`` the Host header).
    """
    if app.middlewares or any(isinstance(resource, web.PrefixedSubAppResource) for resource in app.router.resources()):
        return False
    server.request_handler = ResolvedRoutes(app, server.request_handler, limit)
    return True
