from pathlib import Path

import pytest

from veille.config.settings import load_config, parse_interval
from veille.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
sources:
  - name: Alpha
    url: https://alpha.example/feed
    interval: 15m
  - name: Beta
    url: https://beta.example/
    kind: page
    language: fr
    tags: [police]
    enabled: false
"""


def write(tmp_path, text):
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_gives_sources_with_their_settings(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    alpha, beta = config.sources
    assert (alpha.kind, alpha.interval, alpha.enabled) == ("feed", 900, True)
    assert (beta.kind, beta.language, beta.tags, beta.enabled) == ("page", "fr", ("police",), False)
    assert [s.name for s in config.enabled_sources] == ["Alpha"]


@pytest.mark.parametrize("text, line, words", [
    (GOOD.replace("    interval: 15m", "    intervall: 15m"), 4, ['unknown key "intervall"', 'did you mean "interval"']),
    (GOOD.replace("    url: https://beta.example/\n", ""), 5, ["has no url", "add `url:"]),
    (GOOD.replace("name: Beta", "name: Alpha"), 5, ["defined twice", "first on line 2", "unique name"]),
    (GOOD.replace("interval: 15m", "interval: 15 minutes"), 4, ["not an interval", "30s, 15m, 2h or 1d"]),
    (GOOD.replace("kind: page", "kind: website"), 7, ['kind "website" is unknown', '"feed" or "page"']),
    (GOOD.replace("enabled: false", "enabled: maybe"), 10, ["must be true or false"]),
    (GOOD.replace("url: https://alpha.example/feed", "url: ftp://alpha.example/feed"), 3, ["must start with http"]),
    ("sources:\n  - name: A\n    url: [unclosed\n", 4, ["not valid YAML"]),
])
def test_each_mistake_is_one_line_naming_file_line_and_fix(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    for word in words:
        assert word in message


def test_a_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(ConfigError, match="file not found.*--config"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400)])
def test_intervals_are_written_with_a_unit(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["0m", "15", "1w", "m15", "", "1.5h"])
def test_other_intervals_are_refused(text):
    with pytest.raises(ValueError):
        parse_interval(text)


def test_the_shipped_feeds_yaml_is_valid_and_multilingual():
    config = load_config(ROOT / "feeds.yaml")
    assert len(config.sources) >= 15
    assert len({s.language for s in config.sources}) >= 4
    assert all(s.url.startswith("https://") for s in config.sources)


def test_a_broken_config_exits_2_with_one_line_and_no_traceback(cli):
    cli.write_config(GOOD.replace("    interval: 15m", "    every: 15m"))
    result = cli("fetch", ok=False)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert f"{cli.config}:4:" in result.stderr


@pytest.mark.parametrize("source, words", [
    ('    url: "http://[::1/feed"', "must start with http"),
    ("    url: https://a.example/\n    interval: !!int abc", "cannot read"),
    ("    url: https://a.example/\n    enabled: !!bool maybe", "cannot read"),
    ('    url: https://a.example/\n    tags: [!!binary "QUJD"]', "not text"),
])
def test_odd_values_are_one_line_errors_not_internal_ones(tmp_path, source, words):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "sources:\n  - name: A\n" + source + "\n"))
    assert words in str(caught.value) and "\n" not in str(caught.value)
