"""`make demo`, the first command of the README, runs offline from start to end."""

from __future__ import annotations

import json

from warcio.archiveiterator import ArchiveIterator

from conftest import FIXTURES, ROOT


def test_the_demo_fetches_searches_verifies_and_renders_the_digest(tmp_path, capsys):
    from veille.dev import demo

    project = tmp_path / "project"
    (project / "tests" / "fixtures").mkdir(parents=True)
    (project / "tests" / "fixtures" / "site").symlink_to(FIXTURES / "site")
    (project / "seeds").symlink_to(ROOT / "seeds")
    assert demo.run(project) == 0
    said = capsys.readouterr().out
    assert "all match" in said and "digest weekly:" in said
    made = project / ".demo"
    assert (made / "digest-weekly.eml").stat().st_size > 0
    with open(made / "evidence.warc.gz", "rb") as f:
        kinds = [r.rec_type for r in ArchiveIterator(f, check_digests="raise")]
    assert kinds[0] == "warcinfo" and "response" in kinds
    assert all(json.loads(line.split(" ", 2)[2])["url"] for line in (made / "evidence.cdxj").read_text().splitlines())
