"""Typed application keys: every piece of simulator state hangs off one app instance."""

from __future__ import annotations

from aiohttp import web

from mockserver.backend import VideoBackend
from mockserver.clock import Clock
from mockserver.config import ServerConfig
from mockserver.faults import FaultBook
from mockserver.journal import Journal
from mockserver.jsonio import BodyCache
from mockserver.media import MediaSynthesizer
from mockserver.profiles import GatewayProfile

CONFIG = web.AppKey("config", ServerConfig)
CLOCK = web.AppKey("clock", Clock)
BACKEND = web.AppKey("backend", VideoBackend)
MEDIA = web.AppKey("media", MediaSynthesizer)
PROFILE = web.AppKey("profile", GatewayProfile)
FAULTS = web.AppKey("faults", FaultBook)
JOURNAL = web.AppKey("journal", Journal)
#: The JSON bodies of status polls, kept per task while its state is unchanged.
BODIES = web.AppKey("bodies", BodyCache)
#: Secret for signing the video URLs the simulator hands out (random per app instance).
URL_SECRET = web.AppKey("url_secret", bytes)
#: Tracebacks of unexpected errors inside handlers (the pytest plugin fails the test that caused one).
ERRORS = web.AppKey("errors", list[str])
