"""All network I/O of veille, in four rooms:

    client      the HTTP client (Fetcher, Response) and the settings it takes (ClientSettings)
    guard       which URLs and which networks a request may reach (check_url, allowance)
    politeness  how often and how many at a time one host is asked (the Gate protocol, MemoryGate)
    robots      what a site's robots.txt allows, and the Crawl-delay it asks for
"""

import importlib
from typing import TYPE_CHECKING

# Imported when first used: `veille status` reads the politeness rules without loading httpx.
_WHERE = {"ClientSettings": "client", "Fetcher": "client", "Response": "client",
          "ANY": "guard", "PUBLIC": "guard", "allowance": "guard", "check_url": "guard",
          "Gate": "politeness", "MemoryGate": "politeness", "paced_delay": "politeness", "retry_after": "politeness"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'veille.net' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"veille.net.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from veille.net.client import ClientSettings, Fetcher, Response
    from veille.net.guard import ANY, PUBLIC, allowance, check_url
    from veille.net.politeness import Gate, MemoryGate, paced_delay, retry_after
