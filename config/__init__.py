"""Settings for tgpipe, read from ``TGPIPE_*`` environment variables and an optional ``.env``."""

from config.settings import DEFAULT_API_BASE, Settings, format_validation_error, load_settings

__all__ = ["DEFAULT_API_BASE", "Settings", "format_validation_error", "load_settings"]
