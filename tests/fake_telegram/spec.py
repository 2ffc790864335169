"""The Bot API described as data, and two independent checks of Bot API objects.

``../shared/spec/telegram-bot-api-10.1.json`` (relative to the repository root) lists every method
with its parameters and return type and every type with its fields.  :class:`Spec` checks values
against it: required fields present, no unknown fields, basic types, nested and array types, and
abstract types (``ReactionType``, ``MessageOrigin``, ``ChatMember``...) resolved by their
discriminator field.  :func:`ptb_check` parses the same values with python-telegram-bot, a second
implementation written by other people, and checks that nothing is lost on the way back.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = (REPO_ROOT / ".." / "shared" / "spec" / "telegram-bot-api-10.1.json").resolve()

BASIC_TYPES = frozenset({"Integer", "String", "Boolean", "Float"})
ARRAY_PREFIX = "Array of "

# Update kinds Telegram leaves out unless a bot names them in allowed_updates (getUpdates docs).
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Fields whose description enumerates the allowed values; checked because a typo there (a chat
# "type" of "chanel", an emoji Telegram does not allow as a reaction) is a real bug.
_ENUM_FIELDS = (
    ("Chat", "type"),
    ("ChatFullInfo", "type"),
    ("MessageEntity", "type"),
    ("Sticker", "type"),
    ("Poll", "type"),
    ("ReactionTypeEmoji", "emoji"),
)
# Fields newer than this spec that the client in use (aiogram 3.31, Bot API 10.3) *requires*, so
# Telegram's current servers send them: the fake sends them too, and the checks accept them.
NEWER_THAN_SPEC: dict[str, tuple[tuple[str, str], ...]] = {
    "ChatMemberAdministrator": (("can_send_welcome_messages", "Boolean"),),
    "ChatAdministratorRights": (("can_send_welcome_messages", "Boolean"),),
}
_DISCRIMINATOR = re.compile(r'(?:always|must be) "?([a-z_]+)"?')
_QUOTED = re.compile(r'"([^"]+)"')


class Upload(dict[str, Any]):
    """A file uploaded with multipart/form-data: ``{"filename", "size", "content_type"}``.

    It compares equal to that plain dict; the bytes ride along in ``content`` so the fake can
    serve them again through getFile.
    """

    def __init__(self, filename: str, content: bytes, content_type: str) -> None:
        super().__init__(filename=filename, size=len(content), content_type=content_type)
        self.content = content


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


class Spec:
    """Bot API methods and types, with value checks that return readable problems."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "?")
        self.methods: dict[str, dict[str, Any]] = data["methods"]
        self.types: dict[str, dict[str, Any]] = data["types"]
        self._method_by_lower = {name.lower(): name for name in self.methods}
        self._fields: dict[str, dict[str, Field]] = {}
        for name, body in {**self.types, **self.methods}.items():
            self._fields[name] = {
                f["name"]: Field(
                    f["name"], tuple(f["types"]), bool(f["required"]), f["description"]
                )
                for f in body.get("fields", [])
            }
        for type_name, extra in NEWER_THAN_SPEC.items():
            for field_name, field_type in extra:
                self._fields[type_name].setdefault(
                    field_name, Field(field_name, (field_type,), False, "newer than the spec")
                )
        self.discriminators: dict[str, tuple[str, str]] = {}
        for body in self.types.values():
            for sub in body.get("subtypes", []):
                found = self._find_discriminator(sub)
                if found is not None:
                    self.discriminators[sub] = found
        self.enums: dict[tuple[str, str], frozenset[str]] = {}
        for type_name, field_name in _ENUM_FIELDS:
            field = self._fields.get(type_name, {}).get(field_name)
            if field is not None:
                self.enums[type_name, field_name] = frozenset(_QUOTED.findall(field.description))
        self.update_kinds: tuple[str, ...] = tuple(
            name for name in self._fields["Update"] if name != "update_id"
        )

    def _find_discriminator(self, type_name: str) -> tuple[str, str] | None:
        for field in self._fields.get(type_name, {}).values():
            if field.name in {"type", "status", "source"} and field.types == ("String",):
                match = _DISCRIMINATOR.search(field.description)
                if match:
                    return field.name, match.group(1)
        return None

    # -- lookups -----------------------------------------------------------------------------

    def method_name(self, name: str) -> str | None:
        """The canonical spelling of a method name; Telegram matches them case-insensitively."""
        return self._method_by_lower.get(name.lower())

    def fields(self, name: str) -> dict[str, Field]:
        """Fields of a type or parameters of a method."""
        return self._fields.get(name, {})

    def returns(self, method: str) -> tuple[str, ...]:
        return tuple(self.methods[method]["returns"])

    # -- decoding form values ----------------------------------------------------------------

    def decode(self, raw: str, types: Sequence[str]) -> Any:
        """Turn one form/query string into the value its declared types describe.

        Form data carries everything as text: numbers and booleans as their JSON spelling,
        objects and arrays JSON-serialized.  A value that does not decode stays a string, so the
        type check reports it instead of the decoder hiding it.
        """
        for type_name in types:
            if type_name == "Integer" and re.fullmatch(r"-?\d+", raw):
                return int(raw)
            if type_name == "Float":
                try:
                    return float(raw)
                except ValueError:
                    continue
            if type_name == "Boolean" and raw in {"true", "false", "True", "False"}:
                return raw.lower() == "true"
        if "String" in types or "InputFile" in types:
            return raw
        return _json_or_raw(raw)

    # -- checks ------------------------------------------------------------------------------

    def check(self, value: Any, types: Sequence[str], path: str) -> list[str]:
        """Problems of ``value`` against a list of alternative types (empty: it conforms)."""
        if len(types) > 1 and all(t.startswith(ARRAY_PREFIX) for t in types):
            # "Array of InputMediaPhoto or Array of InputMediaVideo" is how the data spells the
            # docs' "array of InputMediaPhoto and InputMediaVideo": items may mix the kinds.
            inner = [t[len(ARRAY_PREFIX) :] for t in types]
            return self.check(value, [ARRAY_PREFIX + "|".join(inner)], path)
        candidates: list[list[str]] = []
        for type_name in types:
            problems = self._check_one(value, type_name, path)
            if not problems:
                return []
            if _same_shape(value, type_name, self):
                candidates.append(problems)
        if candidates:
            return min(candidates, key=len)
        return [f"{path}: expected {' or '.join(types)}, got {_describe(value)}"]

    def check_params(self, method: str, params: dict[str, Any]) -> list[str]:
        """Missing required, unknown and ill-typed parameters of one call."""
        problems: list[str] = []
        fields = self.fields(method)
        for field in fields.values():
            if field.required and field.name not in params:
                problems.append(f"{method}: required parameter {field.name!r} is missing")
        for name, value in params.items():
            param = fields.get(name)
            if param is None:
                problems.append(f"{method}: unknown parameter {name!r} (not in {self.version})")
                continue
            problems.extend(self.check(value, param.types, f"{method}.{name}"))
        return problems

    def _check_one(self, value: Any, type_name: str, path: str) -> list[str]:
        if type_name.startswith(ARRAY_PREFIX):
            if not isinstance(value, list):
                return [f"{path}: expected {type_name}, got {_describe(value)}"]
            inner = type_name[len(ARRAY_PREFIX) :].split("|")
            problems: list[str] = []
            for index, item in enumerate(value):
                problems.extend(self.check(item, inner, f"{path}[{index}]"))
            return problems
        if type_name in BASIC_TYPES:
            return [] if _is_basic(value, type_name) else [_mismatch(path, type_name, value)]
        if type_name == "InputFile":
            return [] if isinstance(value, Upload) else [_mismatch(path, type_name, value)]
        body = self.types.get(type_name)
        if body is None:
            return [f"{path}: the spec has no type {type_name!r}"]
        if "subtypes" in body:
            return self._check_abstract(value, type_name, body["subtypes"], path)
        return self._check_object(value, type_name, path)

    def _check_abstract(
        self, value: Any, type_name: str, subtypes: list[str], path: str
    ) -> list[str]:
        if type_name == "MaybeInaccessibleMessage" and isinstance(value, dict):
            # The documented rule: an inaccessible message is the one whose date is 0.
            concrete = "InaccessibleMessage" if value.get("date") == 0 else "Message"
            return self._check_object(value, concrete, path)
        if isinstance(value, dict):
            keyed = [s for s in subtypes if s in self.discriminators]
            for sub in keyed:
                key, expected = self.discriminators[sub]
                if value.get(key) == expected:
                    return self._check_object(value, sub, path)
            if keyed and len(keyed) == len([s for s in subtypes if s in self.types]):
                key = self.discriminators[keyed[0]][0]
                allowed = sorted({self.discriminators[s][1] for s in keyed})
                return [
                    f"{path}: {type_name}.{key} is {value.get(key)!r}, expected one of {allowed}"
                ]
        return self.check(value, subtypes, path)

    def _check_object(self, value: Any, type_name: str, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [_mismatch(path, type_name, value)]
        fields = self.fields(type_name)
        problems: list[str] = []
        for field in fields.values():
            if field.required and field.name not in value:
                problems.append(f"{path}: {type_name} lacks required field {field.name!r}")
        for key, item in value.items():
            known = fields.get(key)
            if known is None:
                problems.append(f"{path}: {type_name} has no field {key!r}")
                continue
            problems.extend(self.check(item, known.types, f"{path}.{key}"))
            allowed = self.enums.get((type_name, key))
            if allowed and isinstance(item, str) and item not in allowed:
                problems.append(f"{path}.{key}: {item!r} is not one of the values the spec allows")
        discriminator = self.discriminators.get(type_name)
        if discriminator is not None and value.get(discriminator[0]) != discriminator[1]:
            key, expected = discriminator
            problems.append(f"{path}.{key}: {type_name} must have {key}={expected!r}")
        return problems


def _is_basic(value: Any, type_name: str) -> bool:
    if isinstance(value, bool):
        return type_name == "Boolean"
    if type_name == "Integer":
        return isinstance(value, int)
    if type_name == "Float":
        return isinstance(value, int | float)
    if type_name == "String":
        return isinstance(value, str)
    return False


def _same_shape(value: Any, type_name: str, spec: Spec) -> bool:
    """Whether a failed alternative is worth reporting in detail (same JSON kind as the value)."""
    if type_name.startswith(ARRAY_PREFIX):
        return isinstance(value, list)
    if type_name in BASIC_TYPES or type_name == "InputFile":
        return False
    return isinstance(value, dict) and type_name in spec.types


def _mismatch(path: str, type_name: str, value: Any) -> str:
    return f"{path}: expected {type_name}, got {_describe(value)}"


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _json_or_raw(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@functools.cache
def load_spec(path: Path = SPEC_PATH) -> Spec:
    """The parsed spec; read once per process."""
    with path.open(encoding="utf-8") as handle:
        return Spec(json.load(handle))


# -- python-telegram-bot ---------------------------------------------------------------------


def ptb_check(value: Any, types: Sequence[str], path: str) -> list[str]:
    """Problems python-telegram-bot finds in a result or update of the given declared types.

    Objects are parsed with ``telegram.<Type>.de_json(data, bot=None)`` and serialised back;
    a parse error, or a field that changes or vanishes on the round trip, is a problem.
    Types python-telegram-bot does not have yet are skipped (the spec check still covers them).
    """
    if isinstance(value, bool | int | float | str) or value is None:
        return []
    if isinstance(value, list):
        arrays = [t[len(ARRAY_PREFIX) :] for t in types if t.startswith(ARRAY_PREFIX)]
        problems: list[str] = []
        for index, item in enumerate(value):
            problems.extend(ptb_check(item, arrays, f"{path}[{index}]"))
        return problems
    objects = [t for t in types if t not in BASIC_TYPES and not t.startswith(ARRAY_PREFIX)]
    if not objects or not isinstance(value, dict):
        return []
    return _ptb_parse(value, objects[0], path)


def _ptb_parse(value: dict[str, Any], type_name: str, path: str) -> list[str]:
    import telegram  # imported late: it is only needed when something is checked

    cls = getattr(telegram, type_name, None)
    if cls is None or not hasattr(cls, "de_json"):
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = cls.de_json(copy.deepcopy(value), None)
            back = parsed.to_dict(recursive=True)
    except Exception as error:  # any failure of the independent parser is the finding
        return [f"{path}: python-telegram-bot cannot parse {type_name}: {error!r}"]
    return list(_lost(value, back, path, type_name))


def _lost(original: Any, back: Any, path: str, type_name: str) -> Iterable[str]:
    if isinstance(original, dict):
        if not isinstance(back, dict):
            yield f"{path}: python-telegram-bot turned {type_name} data into {_describe(back)}"
            return
        for key, item in original.items():
            # python-telegram-bot leaves empty arrays out of to_dict(); that loses nothing
            # (required fields are checked against the spec, not here).
            if key not in back and item == []:
                continue
            if key not in back:
                yield f"{path}.{key}: python-telegram-bot dropped this field of {type_name}"
            else:
                yield from _lost(item, back[key], f"{path}.{key}", type_name)
    elif isinstance(original, list):
        if not isinstance(back, list | tuple) or len(back) != len(original):
            yield f"{path}: python-telegram-bot changed this list of {type_name}"
            return
        for index, (item, again) in enumerate(zip(original, back, strict=True)):
            yield from _lost(item, again, f"{path}[{index}]", type_name)
    elif original != back:
        yield f"{path}: python-telegram-bot read {original!r} as {back!r} in {type_name}"
