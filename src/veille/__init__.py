"""veille: a multilingual media-monitoring pipeline and article archive.

The public surface is small: load a config, open an archive, run the pipeline.

    from veille import load_config, open_archive
    from veille.pipeline import fetch_sources, import_paths
"""

__version__ = "0.1.0"

# Imported when first used: `veille --help` reads none of them.
_WHERE = {"Config": "veille.config.settings", "Source": "veille.config.settings",
          "load_config": "veille.config.settings", "VeilleError": "veille.errors",
          "open_archive": "veille.storage"}
__all__ = ["__version__", "Config", "Source", "VeilleError", "load_config", "open_archive"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'veille' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
