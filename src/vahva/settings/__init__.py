"""Django settings modules: ``main`` (what ``vahva`` runs) and ``test``."""
