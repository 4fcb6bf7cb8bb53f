import pytest

from docrag.config import Config
from docrag.errors import ConfigError


def test_defaults_work():
    c = Config()
    assert c.chunk.strategy == "recursive" and c.index.dense and c.retrieve.mode == "hybrid" and c.retrieve.rrf_k == 60


def test_toml_then_overrides(tmp_path):
    p = tmp_path / "a.toml"
    p.write_text('[chunk]\nsize = 300\noverlap = 30\n[retrieve]\nfusion = "weighted"\n')
    c = Config.load(p, dense=False, chunk__size=250, **{"retrieve.rrf_k": 10})
    assert (c.chunk.size, c.chunk.overlap, c.index.dense, c.retrieve.fusion, c.retrieve.rrf_k) == (
        250, 30, False, "weighted", 10)


@pytest.mark.parametrize("kwargs, message", [
    ({"nonsense": 1}, "unknown option 'nonsense'"),
    ({"chunk__colour": 1}, "unknown option"),
    ({"chunk__size": -5}, "chunk.size"),
    ({"chunk__size": 100, "chunk__overlap": 100}, "overlap"),
    ({"mode": "sideways"}, "retrieve.mode"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Config.load(None, **kwargs)


def test_bad_toml_names_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[chunk\nsize=")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        Config.load(p)
    p.write_text("[chunk]\nsizee = 3\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        Config.load(p)
    with pytest.raises(ConfigError, match="not found"):
        Config.load(tmp_path / "missing.toml")


def test_a_config_object_is_taken_as_it_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docrag.toml").write_text("[chunk\nbroken =")  # ./docrag.toml is for Config.load only
    config = Config(chunk={"size": 300, "overlap": 30})
    assert config.updated(dense=False).chunk.size == 300
    import docrag

    idx = docrag.Index.open(tmp_path / "ix", create=True, config=config, chunk__overlap=20)
    assert (idx.config.chunk.size, idx.config.chunk.overlap) == (300, 20) and config.chunk.overlap == 30
    idx.close()


def test_each_rule_is_the_same_wherever_it_applies():
    from docrag.chunk import RecursiveSplitter
    from docrag.config import Decoding, GenerateConfig

    message = r"chunk.overlap \(100\) must be smaller than chunk.size \(100\)"
    with pytest.raises(ConfigError, match=message):
        Config.load(None, chunk__size=100, chunk__overlap=100)
    with pytest.raises(ValueError, match=message):
        RecursiveSplitter(size=100, overlap=100)
    with pytest.raises(ConfigError, match="beam search needs num_beams >= 2"):
        Config.load(None, generate__strategy="beam", num_beams=1)
    with pytest.raises(ValueError, match="beam search needs num_beams >= 2"):
        Decoding(strategy="beam", num_beams=1)
    assert set(Decoding.model_fields) < set(GenerateConfig.model_fields)  # the generate section's decoding settings
