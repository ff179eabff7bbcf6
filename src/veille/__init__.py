"""veille: a multilingual media-monitoring pipeline and article archive.

The public surface is small: load a config, open an archive, run the pipeline.

    from veille import load_config, open_archive
    from veille.pipeline import fetch_sources, import_paths
"""

__version__ = "0.1.0"

from veille.config.settings import Config, Source, load_config  # noqa: E402
from veille.errors import VeilleError  # noqa: E402
from veille.storage import open_archive  # noqa: E402

__all__ = ["__version__", "Config", "Source", "VeilleError", "load_config", "open_archive"]
