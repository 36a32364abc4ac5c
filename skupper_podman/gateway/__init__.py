"""Gateways: a lightweight edge router on a machine that is not a site.

A gateway exposes local processes to the service network (``bind``/``expose``: the router
dials them) and brings network services to local ports (``forward``: the router listens). Its
router connects to the site's edge listener with a client certificate issued by the site CA,
as a link does.

- :mod:`.model`: the gateway definition and the 1.5 gateway YAML (§3.4 of the product docs);
- :mod:`.routerconf`: the gateway router's ``skrouterd.json`` (Jinja template, schema check);
- :mod:`.runners`: how a gateway router runs (podman or docker container, systemd user unit);
- :mod:`.store`: where a site keeps its gateways (one labelled volume each);
- :mod:`.bundle`: installation bundles for machines without this CLI;
- :mod:`.operations`: :class:`~skupper_podman.gateway.operations.Gateways`, the public API.
"""
