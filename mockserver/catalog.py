"""The nine models of the gateway dialect and their parameters, as data.

Every row below can be checked line by line against seed 003 ("Submit video task", section
"Model-Specific Parameters" and the "Model Comparison" table); allowed values that the seed leaves
open come from ../shared/reference/dialects.md and are marked as such. ``validate`` turns a request
body into a :class:`RenderSpec` (pixels, seconds, audio) or raises :class:`InvalidParameter`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.errors import InvalidParameter, UnknownModel

#: Frame rate of every synthesized video, in frames per second (issue 4: "24 unless asked otherwise").
DEFAULT_FPS = 24

#: Pixel sizes for a vertical resolution and an aspect ratio (width, height). Even numbers only:
#: H.264 in yuv420p needs them.
RESOLUTIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("480p", "16:9"): (854, 480),
    ("480p", "9:16"): (480, 854),
    ("480p", "1:1"): (480, 480),
    ("720p", "16:9"): (1280, 720),
    ("720p", "9:16"): (720, 1280),
    ("720p", "1:1"): (720, 720),
    ("1080p", "16:9"): (1920, 1080),
    ("1080p", "9:16"): (1080, 1920),
    ("1080p", "1:1"): (1080, 1080),
}


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """What the simulated generation produces.

    Attributes:
        width: Frame width in pixels.
        height: Frame height in pixels.
        seconds: Duration in seconds.
        fps: Frames per second.
        audio: Whether the MP4 carries an audio track (Veo ``generateAudio``).
        target_bytes: Pad the MP4 to this many bytes (still a valid MP4), or None for its natural size.
    """

    width: int
    height: int
    seconds: int
    fps: int = DEFAULT_FPS
    audio: bool = False
    target_bytes: int | None = None

    @property
    def size(self) -> str:
        """The size as ``"WIDTHxHEIGHT"`` in pixels."""
        return f"{self.width}x{self.height}"


# --- parameter kinds ---------------------------------------------------------------------------

# The patterns are also the contract's (openapi/videomock.yaml: Prompt, HttpUrl, DataUri,
# Base64Data, SeedString); tests/test_contract.py checks that both say the same. They spell every
# class out (no \s, \w, \d) and a closing "$" means the end of the string, so that Python here and
# the ECMA-262 engines of schema tools read them alike.
#: Python's whitespace (``str.isspace``: what ``str.strip`` removes), as a regex class body.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Blank text (the contract rules it out with ``not``: a prompt, a style, an ID must not be blank).
BLANK_PATTERN = f"^[{WHITESPACE}]*$"
URL_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]?://[^{WHITESPACE}/$.?#][^{WHITESPACE}]*$"
DATA_URI_PATTERN = (r"^data:[A-Za-z0-9_.+-]+/[A-Za-z0-9_.+-]+(;[A-Za-z0-9_.+-]+=[A-Za-z0-9_.+-]+)*;base64,"
                    rf"[A-Za-z0-9+/={WHITESPACE}]+$")
#: Canonical padded base64 of at least one byte (what ``base64.b64decode(validate=True)`` decodes, strictly).
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"
#: An integer from 0 to 2**31 - 1 in canonical decimal (a Wanxiang ``seed`` sent as a string).
SEED_PATTERN = (r"^(?:[0-9]|[1-9][0-9]{1,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|"
                r"2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|"
                r"21474836[0-3][0-9]|214748364[0-7])$")


def _anchored(pattern: str) -> re.Pattern[str]:
    """``pattern`` with its closing ``$`` read as the contract reads it: the end of the string."""
    return re.compile(pattern.removesuffix("$") + r"\Z")


_URL = _anchored(URL_PATTERN)
_DATA_URI = _anchored(DATA_URI_PATTERN)
_BASE64 = _anchored(BASE64_PATTERN)
_SEED = _anchored(SEED_PATTERN)
#: An integer in canonical decimal form (no sign but "-", no leading zeros, no spaces).
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def _is_base64(text: str) -> bool:
    return _BASE64.match(text) is not None


def _check_int(name: str, value: Any) -> int:
    # new-api decodes `duration` from a JSON number or a numeric string (dialects.md §1.4); the
    # string must be the number's canonical decimal form ("6", not " 6", "06" or "+6").
    if isinstance(value, bool):
        raise InvalidParameter(name, f"'{name}' must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _CANONICAL_INT.fullmatch(value) and value != "-0":
        return int(value)
    raise InvalidParameter(name, f"'{name}' must be an integer, got {value!r}")


def _check_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise InvalidParameter(name, f"'{name}' must be a string, got {type(value).__name__}")


def _check_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidParameter(name, f"'{name}' must be true or false, got {value!r}")


def _check_url(name: str, value: Any) -> str:
    text = _check_str(name, value)
    if _URL.match(text) or _DATA_URI.match(text):
        return text
    raise InvalidParameter(name, f"'{name}' must be an http(s) URL or a base64 data URI")


def _check_image(name: str, value: Any) -> str:
    # Veo and Seedance accept a frame image as "Base64 or URL" (seed 003).
    text = _check_str(name, value)
    if _URL.match(text) or _DATA_URI.match(text) or _is_base64(text):
        return text
    raise InvalidParameter(name, f"'{name}' must be an http(s) URL, a data URI or base64 image data")


def _check_seed(name: str, value: Any) -> int:
    if isinstance(value, str) and _SEED.match(value):
        return int(value)
    number = _check_int(name, value)
    if not 0 <= number <= 2**31 - 1:
        raise InvalidParameter(name, f"'{name}' must be between 0 and 2147483647, got {number}")
    return number


def _check_text(name: str, value: Any) -> str:
    text = _check_str(name, value)
    if not text.strip():
        raise InvalidParameter(name, f"'{name}' must not be blank")
    return text


@dataclass(frozen=True, slots=True)
class Param:
    """One request parameter of a model.

    Attributes:
        name: The wire name, exactly as the vendor spells it.
        check: Converts and checks a raw JSON value; raises InvalidParameter.
        choices: The documented set of values, or None when any checked value is allowed.
        default: The value used when the request omits the parameter (None: no default).
        doc: One line from the seed describing the parameter.
    """

    name: str
    check: Callable[[str, Any], Any]
    choices: tuple[Any, ...] | None = None
    default: Any = None
    doc: str = ""

    def parse(self, value: Any) -> Any:
        """Check ``value`` and return it converted.

        Raises:
            InvalidParameter: the value has the wrong type or is outside ``choices``; the message
                names the parameter and lists the allowed values.
        """
        converted = self.check(self.name, value)
        if self.choices is not None and converted not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise InvalidParameter(self.name, f"'{self.name}' must be one of {allowed}; got {value!r}")
        return converted


def _int_choice(name: str, choices: tuple[int, ...], default: int | None, doc: str) -> Param:
    return Param(name, _check_int, choices, default, doc)


def _str_choice(name: str, choices: tuple[str, ...], default: str | None, doc: str) -> Param:
    return Param(name, _check_str, choices, default, doc)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model of the gateway dialect (seed 003, "Supported Models").

    Attributes:
        model: The model ID, as sent in ``model``.
        provider: The vendor named in the seed's model table.
        family: ``sora``, ``veo``, ``wanxiang`` or ``seedance``.
        description: The seed's description of the model.
        params: The model's parameters by wire name.
        max_seconds: "Max Duration" of the comparison table, in seconds.
        max_resolution: "Max Resolution" of the comparison table (``720p`` or ``1080p``).
        first_frame: Which parameter carries the first frame ("First Frame Constraint").
        last_frame: Which parameter carries the last frame, or None ("Last Frame Constraint").
        audio: Whether the model can generate audio ("Audio Generation").
        download: Whether ``GET /v1/video/generations/download`` serves it (seed 000: Sora 2 only).
        geometry: Turns the parameters as sent and with defaults applied into a RenderSpec.
    """

    model: str
    provider: str
    family: str
    description: str
    params: Mapping[str, Param]
    max_seconds: int
    max_resolution: str
    first_frame: str
    last_frame: str | None
    audio: bool
    download: bool
    geometry: Callable[[dict[str, Any], dict[str, Any]], RenderSpec] = field(repr=False)


# --- Sora 2 -----------------------------------------------------------------------------------

_SORA_PARAMS = (
    _int_choice("duration", (5, 10, 15, 20), 5, "Video duration (seconds): 5, 10, 15, 20, default 5"),
    _str_choice("resolution", ("480p", "720p", "1080p"), "720p", "Resolution: 480p, 720p, 1080p, default 720p"),
    _str_choice("aspect_ratio", ("16:9", "9:16", "1:1"), "16:9", "Aspect ratio: 16:9, 9:16, 1:1, default 16:9"),
    Param("image_url", _check_url, doc="Reference image URL (image-to-video mode)"),
    Param("remix_url", _check_url, doc="Original video URL (Remix mode)"),
    # The seconds/size form of the download-page workflow (seeds 000-002: "seconds": "4",
    # "size": "720x1280"); values as OpenAI's VideoSeconds and new-api's sora-2 sizes.
    Param("seconds", lambda n, v: str(_check_int(n, v)), ("4", "8", "12"), None,
          'Seconds as in the download-page example ("4"; OpenAI VideoSeconds 4, 8, 12)'),
    _str_choice("size", ("720x1280", "1280x720"), None, 'Size as in the download-page example ("720x1280")'),
)
_SORA_SECONDS_FORM = ("seconds", "size")
_SORA_DURATION_FORM = ("duration", "resolution", "aspect_ratio")


def _sora_geometry(sent: dict[str, Any], values: dict[str, Any]) -> RenderSpec:
    if any(k in sent for k in _SORA_SECONDS_FORM):
        clash = [k for k in _SORA_DURATION_FORM if k in sent]
        if clash:
            raise InvalidParameter(
                clash[0],
                f"'{clash[0]}' cannot be combined with 'seconds'/'size': use either seconds+size "
                "or duration+resolution+aspect_ratio",
            )
        width, height = (int(x) for x in values.get("size", "720x1280").split("x"))
        return RenderSpec(width, height, int(values.get("seconds", "4")))
    width, height = RESOLUTIONS[(values["resolution"], values["aspect_ratio"])]
    return RenderSpec(width, height, values["duration"])


# --- Veo --------------------------------------------------------------------------------------


def _veo_params(last_frame: bool) -> tuple[Param, ...]:
    params = (
        # Allowed values from the mixroute Veo page (dialects.md §1.4): 4/6/8 s, 16:9 or 9:16, 720p/1080p.
        _int_choice("durationSeconds", (4, 6, 8), 8, "Duration in seconds: 4, 6, 8 (max 8 s)"),
        _str_choice("aspectRatio", ("16:9", "9:16"), "16:9", "Aspect ratio: 16:9, 9:16"),
        _str_choice("resolution", ("720p", "1080p"), "720p", "Resolution: 720p, 1080p"),
        Param("generateAudio", _check_bool, None, False, "Whether to generate synchronized audio, default false"),
        Param("image", _check_image, doc="First frame reference image (Base64 or URL)"),
    )
    if last_frame:
        params += (Param("lastFrameImage", _check_image,
                         doc="Last frame reference image (only supported by veo-3.1 series)"),)
    return params


def _veo_geometry(sent: dict[str, Any], values: dict[str, Any]) -> RenderSpec:
    if "lastFrameImage" in values and "image" not in values:
        raise InvalidParameter("lastFrameImage", "'lastFrameImage' needs a first frame in 'image'")
    width, height = RESOLUTIONS[(values["resolution"], values["aspectRatio"])]
    return RenderSpec(width, height, values["durationSeconds"], audio=values["generateAudio"])


# --- Alibaba Wanxiang ---------------------------------------------------------------------------

_WAN_PARAMS = (
    _int_choice("duration", (3, 5, 10), 5, "Video duration (seconds): 3, 5, 10"),
    _str_choice("size", ("1280x720", "720x1280", "960x960"), "1280x720", "Video size: 1280x720, 720x1280, 960x960"),
    Param("style", _check_text, doc="Style: realistic, anime, 3d, etc. (an open list)"),
    Param("seed", _check_seed, doc="Random seed for reproducible results (0 to 2147483647)"),
    Param("image_url", _check_url, doc="Reference image URL (image-to-video mode)"),
)


def _wan_geometry(sent: dict[str, Any], values: dict[str, Any]) -> RenderSpec:
    width, height = (int(x) for x in values["size"].split("x"))
    return RenderSpec(width, height, values["duration"])


# --- Doubao Seedance ----------------------------------------------------------------------------

_SEEDANCE_PARAMS = (
    _int_choice("duration", (4, 6, 8), 6, "Video duration (seconds): 4, 6, 8"),
    _str_choice("aspect_ratio", ("16:9", "9:16", "1:1"), "16:9", "Aspect ratio: 16:9, 9:16, 1:1"),
    # The seed's examples send "resolution": "1080p"; the comparison table caps it at 1080p.
    _str_choice("resolution", ("480p", "720p", "1080p"), "720p", "Resolution (examples: 1080p; max 1080p)"),
    Param("first_frame", _check_image, doc="First frame image (Base64 or URL)"),
    Param("last_frame", _check_image, doc="Last frame image (Base64 or URL)"),
    Param("reference_image", _check_image, doc="Reference image (for style or character reference)"),
    Param("negative_prompt", _check_text, doc="Negative prompt, describing unwanted elements"),
)


def _seedance_geometry(sent: dict[str, Any], values: dict[str, Any]) -> RenderSpec:
    width, height = RESOLUTIONS[(values["resolution"], values["aspect_ratio"])]
    return RenderSpec(width, height, values["duration"])


def _spec(model: str, provider: str, family: str, description: str, params: tuple[Param, ...],
          **limits: Any) -> ModelSpec:
    return ModelSpec(model, provider, family, description, {p.name: p for p in params}, **limits)


_SORA = dict(max_seconds=20, max_resolution="1080p", first_frame="image_url", last_frame=None, audio=False,
             download=True, geometry=_sora_geometry)
_VEO = dict(max_seconds=8, max_resolution="1080p", first_frame="image", audio=True, download=False,
            geometry=_veo_geometry)
_WAN = dict(max_seconds=10, max_resolution="720p", first_frame="image_url", last_frame=None, audio=False,
            download=False, geometry=_wan_geometry)
_SEEDANCE = dict(max_seconds=8, max_resolution="1080p", first_frame="first_frame", last_frame="last_frame",
                 audio=False, download=False, geometry=_seedance_geometry)

#: The nine models of seed 003's "Supported Models" table, in the seed's order.
MODELS: dict[str, ModelSpec] = {
    spec.model: spec
    for spec in (
        _spec("sora-2", "OpenAI", "sora", "Sora 2 video generation model", _SORA_PARAMS, **_SORA),
        _spec("veo-3.0-fast-generate-001", "Google", "veo", "Veo 3.0 fast version", _veo_params(False),
              last_frame=None, **_VEO),
        _spec("veo-3.1-fast-generate-preview", "Google", "veo", "Veo 3.1 fast version", _veo_params(True),
              last_frame="lastFrameImage", **_VEO),
        _spec("veo-3.0-generate-preview", "Google", "veo", "Veo 3.0 standard version", _veo_params(False),
              last_frame=None, **_VEO),
        _spec("veo-3.1-generate-preview", "Google", "veo", "Veo 3.1 standard version", _veo_params(True),
              last_frame="lastFrameImage", **_VEO),
        _spec("wanx-video-v1", "Alibaba", "wanxiang", "Alibaba Wanxiang video generation", _WAN_PARAMS, **_WAN),
        _spec("seedance-1.0", "ByteDance Doubao", "seedance", "Doubao Seedance 1.0 video generation",
              _SEEDANCE_PARAMS, **_SEEDANCE),
        _spec("seedance-1.0-pro", "ByteDance Doubao", "seedance", "Doubao Seedance 1.0 Pro video generation",
              _SEEDANCE_PARAMS, **_SEEDANCE),
        _spec("seedance-1.5-pro", "ByteDance Doubao", "seedance", "Doubao Seedance 1.5 Pro video generation",
              _SEEDANCE_PARAMS, **_SEEDANCE),
    )
}

#: Keys of a submit body that are not model parameters.
COMMON_KEYS = ("model", "prompt")


def lookup(model: Any) -> ModelSpec:
    """Return the spec of ``model``.

    Raises:
        InvalidParameter: ``model`` is missing or not a string.
        UnknownModel: ``model`` is not one of the nine documented models (the message lists them).
    """
    if model is None or model == "":
        raise InvalidParameter("model", "'model' is required; one of " + ", ".join(MODELS))
    if not isinstance(model, str):
        raise InvalidParameter("model", f"'model' must be a string, got {type(model).__name__}")
    try:
        return MODELS[model]
    except KeyError:
        raise UnknownModel(model, tuple(MODELS)) from None


def validate(spec: ModelSpec, body: Mapping[str, Any]) -> tuple[dict[str, Any], RenderSpec]:
    """Check the model parameters of a submit body (seed 003) and resolve what to render.

    Unknown keys are rejected rather than ignored, so a misspelt parameter never falls back to a
    silent default. Parameters sent as JSON ``null`` count as omitted.

    Args:
        spec: The model, from :func:`lookup`.
        body: The decoded JSON body, including ``model`` and ``prompt``.

    Returns:
        The parameters as sent (converted), and the RenderSpec with defaults applied.

    Raises:
        InvalidParameter: an unknown key, a wrong type, or a value outside the documented set.
    """
    sent: dict[str, Any] = {}
    for key, value in body.items():
        if key in COMMON_KEYS:
            continue
        param = spec.params.get(key)
        if param is None:  # even when null: a misspelt key is an error, whatever its value
            accepted = ", ".join(spec.params)
            raise InvalidParameter(key, f"'{key}' is not a parameter of {spec.model}; accepted: {accepted}")
        if value is not None:
            sent[key] = param.parse(value)
    with_defaults = {p.name: p.default for p in spec.params.values() if p.default is not None} | sent
    return sent, spec.geometry(sent, with_defaults)
