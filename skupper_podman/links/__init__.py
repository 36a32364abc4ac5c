"""Links between sites: tokens (``tokens``), claim redemption (``claims``) and link
create/delete/status and token create (``operations``)."""
