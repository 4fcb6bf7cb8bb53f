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
