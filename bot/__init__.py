"""Everything that talks to Telegram: routers, middlewares, publisher, scheduler wiring."""
