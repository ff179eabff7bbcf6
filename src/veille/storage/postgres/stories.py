"""The PostgreSQL archive's stories: fingerprints, the candidate indexes and stories' members.
(Being written: see storage/sqlite/stories.py for what each method does.)"""

from __future__ import annotations

from veille.storage.postgres.base import Part, converts_errors


@converts_errors
class Stories(Part):
    pass
