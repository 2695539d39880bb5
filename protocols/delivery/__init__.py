"""Mail that leaves the server: the outbound queue runner and what it needs."""
