"""Domain logic of auth_service; no Flask request objects in here."""
