"""The model table against seed 003, line by line, and the comparison table's limits."""

from __future__ import annotations

import pytest

from mockserver import catalog
from mockserver.errors import InvalidParameter, UnknownModel

SEED_MODELS = [  # seed 003 "Supported Models", in order
    "sora-2", "veo-3.0-fast-generate-001", "veo-3.1-fast-generate-preview", "veo-3.0-generate-preview",
    "veo-3.1-generate-preview", "wanx-video-v1", "seedance-1.0", "seedance-1.0-pro", "seedance-1.5-pro",
]


def choices(model, param):
    return catalog.MODELS[model].params[param].choices


def test_the_nine_models_in_the_seed_order():
    assert list(catalog.MODELS) == SEED_MODELS


def test_sora_2_parameters():
    assert choices("sora-2", "duration") == (5, 10, 15, 20)
    assert catalog.MODELS["sora-2"].params["duration"].default == 5
    assert choices("sora-2", "resolution") == ("480p", "720p", "1080p")
    assert catalog.MODELS["sora-2"].params["resolution"].default == "720p"
    assert choices("sora-2", "aspect_ratio") == ("16:9", "9:16", "1:1")
    assert catalog.MODELS["sora-2"].params["aspect_ratio"].default == "16:9"
    assert {"image_url", "remix_url", "seconds", "size"} <= set(catalog.MODELS["sora-2"].params)


@pytest.mark.parametrize("model", [m for m in SEED_MODELS if m.startswith("veo")])
def test_veo_parameters(model):
    params = catalog.MODELS[model].params
    assert {"durationSeconds", "aspectRatio", "resolution", "generateAudio", "image"} <= set(params)
    assert params["generateAudio"].default is False
    assert ("lastFrameImage" in params) == model.startswith("veo-3.1"), "last frame only on the veo-3.1 series"


def test_wanxiang_parameters():
    assert choices("wanx-video-v1", "duration") == (3, 5, 10)
    assert choices("wanx-video-v1", "size") == ("1280x720", "720x1280", "960x960")
    assert {"style", "seed", "image_url"} <= set(catalog.MODELS["wanx-video-v1"].params)


@pytest.mark.parametrize("model", ["seedance-1.0", "seedance-1.0-pro", "seedance-1.5-pro"])
def test_seedance_parameters(model):
    assert choices(model, "duration") == (4, 6, 8)
    assert choices(model, "aspect_ratio") == ("16:9", "9:16", "1:1")
    assert {"first_frame", "last_frame", "reference_image", "negative_prompt"} <= set(catalog.MODELS[model].params)


# Seed 003 "Model Comparison": max duration, max resolution, last frame, audio.
COMPARISON = {"sora": (20, "1080p", False, False), "veo": (8, "1080p", None, True),
              "wanxiang": (10, "720p", False, False), "seedance": (8, "1080p", True, False)}


@pytest.mark.parametrize("model", SEED_MODELS)
def test_comparison_table_limits_hold_for_every_accepted_value(model):
    spec = catalog.MODELS[model]
    max_seconds, max_resolution, last_frame, audio = COMPARISON[spec.family]
    assert (spec.max_seconds, spec.max_resolution, spec.audio) == (max_seconds, max_resolution, audio)
    if last_frame is not None:
        assert (spec.last_frame is not None) == last_frame
    durations = [p for p in spec.params.values() if p.name in ("duration", "durationSeconds")]
    assert max(max(p.choices) for p in durations) == max_seconds
    # "Max Resolution" bounds the pixel count: Wanxiang's 960x960 holds as many pixels as 1280x720.
    limit = catalog.RESOLUTIONS[(max_resolution, "16:9")]
    for name in ("resolution", "size"):
        for value in spec.params[name].choices if name in spec.params else ():
            if value.endswith("p"):
                width, height = catalog.RESOLUTIONS[(value, "16:9")]
            else:
                width, height = map(int, value.split("x"))
            assert width * height <= limit[0] * limit[1], (model, value)
    assert spec.first_frame in spec.params


def test_defaults_resolve_to_pixels_and_seconds():
    _, render = catalog.validate(catalog.MODELS["sora-2"], {"model": "sora-2", "prompt": "x"})
    assert (render.width, render.height, render.seconds, render.fps) == (1280, 720, 5, 24)
    _, render = catalog.validate(catalog.MODELS["seedance-1.0"], {"aspect_ratio": "9:16", "resolution": "480p"})
    assert (render.width, render.height) == (480, 854)


def test_numeric_strings_are_accepted_for_integers_as_new_api_does():
    sent, render = catalog.validate(catalog.MODELS["wanx-video-v1"], {"duration": "10"})
    assert sent["duration"] == 10 and render.seconds == 10


def test_null_counts_as_omitted():
    sent, _ = catalog.validate(catalog.MODELS["wanx-video-v1"], {"style": None})
    assert sent == {}


def test_lookup_errors():
    with pytest.raises(UnknownModel, match=r"seedance-1\.5-pro"):
        catalog.lookup("sora-3")
    with pytest.raises(InvalidParameter, match="required"):
        catalog.lookup(None)


def test_images_accept_base64_and_data_uris():
    spec = catalog.MODELS["veo-3.1-generate-preview"]
    catalog.validate(spec, {"image": "iVBORw0KGgo=", "lastFrameImage": "data:image/png;base64,iVBORw0KGgo="})
