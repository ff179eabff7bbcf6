"""Politeness behind the Gate protocol: any gate given to the client is the one every request passes."""

from veille.config.settings import parse_config
from veille.net.client import Fetcher
from veille.net.politeness import Gate, MemoryGate
from veille.pipeline import fetch_sources

CONFIG = """\
settings:
  host_delay: 0  # our own local server
sources:
  - name: observatoire
    url: {base}/feeds/observatoire.xml
"""


class SharedGate:
    """A stand-in for a gate shared by workers (no MemoryGate subclass): says what it was asked."""

    def __init__(self) -> None:
        self.inner, self.asked = MemoryGate(per_host=1, delay=0.0), []

    def slot(self, url: str):
        self.asked.append(("slot", url))
        return self.inner.slot(url)

    def ready_in(self, url: str) -> float:
        return self.inner.ready_in(url)

    def held_for(self, url: str) -> float:
        return self.inner.held_for(url)

    def hold(self, url: str, seconds: float) -> None:
        self.asked.append(("hold", url))
        self.inner.hold(url, seconds)

    def pace(self, host: str, seconds: float | None) -> None:
        self.asked.append(("pace", host))
        self.inner.pace(host, seconds)


def test_every_request_of_a_pass_passes_the_gate_the_client_was_given(site, archive, tmp_path):
    assert isinstance(MemoryGate(), Gate) and isinstance(SharedGate(), Gate)
    config = parse_config(CONFIG.format(base=site.url), tmp_path / "feeds.yaml")
    gate = SharedGate()
    with Fetcher(config.settings, gate=gate) as client:
        assert client.gate is gate
        report = fetch_sources(config, archive, fetcher=client)
    assert report.counts["new"] == 4, report
    slots = [url.removeprefix(site.url) for kind, url in gate.asked if kind == "slot"]
    assert sorted(slots) == sorted(request.path for request in site.requests)
    assert "/feeds/observatoire.xml" in slots and "/robots.txt" in slots
    assert ("pace", "127.0.0.1") in gate.asked  # what robots.txt said (nothing) reached the gate too
