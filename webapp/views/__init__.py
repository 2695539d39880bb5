"""The endpoints of the webmail, one module per area."""
