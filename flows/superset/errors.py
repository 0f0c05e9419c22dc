"""The one error of driving Superset from outside its process."""


class SupersetError(RuntimeError):
    """Superset cannot be set up, started or reached; the message says why."""
