"""The service network beyond one site: routers, links and site counts (``topology``)."""
