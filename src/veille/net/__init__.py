"""All network I/O of veille, in four rooms:

    client      the HTTP client (Fetcher, Response) and the settings it takes (ClientSettings)
    guard       which URLs and which networks a request may reach (check_url, allowance)
    politeness  how often and how many at a time one host is asked (the Gate protocol, MemoryGate)
    robots      what a site's robots.txt allows, and the Crawl-delay it asks for
"""

from veille.net.client import ClientSettings, Fetcher, Response
from veille.net.guard import ANY, PUBLIC, allowance, check_url
from veille.net.politeness import Gate, MemoryGate, paced_delay, retry_after

__all__ = ["ANY", "PUBLIC", "ClientSettings", "Fetcher", "Gate", "MemoryGate", "Response", "allowance", "check_url",
           "paced_delay", "retry_after"]
