"""Everything in tgpipe that does not talk to Telegram: parsers, normalisation, dedup, the store.

This package never imports aiogram.
"""
