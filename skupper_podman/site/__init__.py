"""A site: init, discovery, delete, revoke-access (``lifecycle``), the options of ``init``
(``options``), ingress hosts and ports (``ingress``) and ``status``/``version`` (``status``)."""
