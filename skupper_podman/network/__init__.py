"""The service network beyond one site.

``topology`` counts sites from router management (``status``). The rest is vanflow, Skupper's
flow-record protocol: ``vanflow`` (wire format), ``flowstate`` (what a collector knows, 1.5's
rules), ``collecting`` (a collector on a router connection), ``informer`` and ``controller``
(the site controller; these four and ``vanflow`` run inside its container), ``deploy`` (how a
site runs it), ``collector`` (its report and a live collector for the library), ``status``
(``network status``) and ``debug`` (``debug dump`` and ``debug events``).
"""
