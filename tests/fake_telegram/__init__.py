"""A fake Telegram Bot API server for the test suite (DESIGN.md, "Testing").

from tests.fake_telegram import FakeTelegram, updates

async with FakeTelegram() as tg:
    bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
    tg.push_update(updates.private_message("/start", user_id=42))
    ...
    assert tg.problems == []
"""

from tests.fake_telegram import updates
from tests.fake_telegram.server import ApiCall, ApiError, FakeTelegram, utf16_len
from tests.fake_telegram.spec import Spec, Upload, load_spec

__all__ = [
    "ApiCall",
    "ApiError",
    "FakeTelegram",
    "Spec",
    "Upload",
    "load_spec",
    "updates",
    "utf16_len",
]
