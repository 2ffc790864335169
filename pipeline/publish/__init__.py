"""The publishing queue: publications, claims and leases, send limits, autopost rules.

Plain library code: it decides what is due and records what happened; sending through
Telegram lives in ``bot/``. Never imports aiogram.
"""
