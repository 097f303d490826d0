"""Discord's server-side checks on what a bot sends: messages, components, modals, commands."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from playground.errors import ApiError, form_error
from playground.models import FLAG_COMPONENTS_V2, JSON, Limits, UploadedFile

ACTION_ROW, BUTTON, TEXT_INPUT, LABEL = 1, 2, 4, 18
SELECTS = {3, 5, 6, 7, 8}
LINK_STYLE, PREMIUM_STYLE = 5, 6
_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


def check_upload(files: Sequence[UploadedFile], limit: int) -> None:
    total = sum(len(f.data) for f in files)
    if total > limit:
        raise ApiError(
            413,
            40005,
            "Request entity too large",
            kind="too_large",
            detail=f"{total} bytes of files over the {limit}-byte upload limit",
        )


def check_message(
    body: JSON, files: Sequence[UploadedFile], limits: Limits, *, creating: bool
) -> None:
    """Validate a message body; `creating` also rejects empty messages (50006)."""
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        raise form_error("content", "BASE_TYPE_STRING", "Must be a string.")
    if content and len(content) > limits.max_content:
        raise form_error(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {limits.max_content} or fewer in length.",
        )
    embeds = body.get("embeds") or []
    if len(embeds) > limits.max_embeds:
        raise form_error(
            "embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {limits.max_embeds} or fewer in length."
        )
    for index, embed in enumerate(embeds):
        _check_embed(embed, f"embeds.{index}")
    components = body.get("components") or []
    v2 = bool(int(body.get("flags") or 0) & FLAG_COMPONENTS_V2)
    check_components(components, limits, v2=v2)
    if v2 and (content or embeds):
        raise form_error(
            "content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Not allowed."
        )
    empty = not (content or embeds or components or files or body.get("sticker_ids"))
    if creating and empty and not body.get("poll"):
        raise ApiError(400, 50006, "Cannot send an empty message", kind="empty_message")


def _check_embed(embed: JSON, path: str) -> None:
    bounds = {"title": 256, "description": 4096}
    total = 0
    for key, bound in bounds.items():
        text = embed.get(key) or ""
        total += len(text)
        if len(text) > bound:
            raise form_error(
                f"{path}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {bound} or fewer in length."
            )
    fields = embed.get("fields") or []
    if len(fields) > 25:
        raise form_error(f"{path}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer.")
    total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in fields)
    total += len((embed.get("footer") or {}).get("text", ""))
    total += len((embed.get("author") or {}).get("name", ""))
    if total > 6000:
        raise form_error(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def check_components(components: list[Any], limits: Limits, *, v2: bool) -> None:
    """Rows, row sizes, selects alone in their row, custom_id presence, length and uniqueness."""
    if not v2 and len(components) > limits.max_action_rows:
        raise form_error(
            "components",
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {limits.max_action_rows} in length.",
        )
    seen: set[str] = set()
    for index, row in enumerate(components):
        path = f"components.{index}"
        if not isinstance(row, dict) or "type" not in row:
            raise form_error(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used.")
        if not v2 and row["type"] != ACTION_ROW:
            raise form_error(f"{path}.type", "COMPONENT_LAYOUT_INVALID", "Expected an action row.")
        _check_tree(row, path, limits, seen)


def _check_tree(component: JSON, path: str, limits: Limits, seen: set[str]) -> None:
    kind = component.get("type")
    children = component.get("components") or []
    if kind == ACTION_ROW:
        if not 1 <= len(children) <= limits.max_row_items:
            raise form_error(
                f"{path}.components",
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {limits.max_row_items} in length.",
            )
        if len(children) > 1 and any(c.get("type") in SELECTS for c in children):
            raise form_error(
                f"{path}.components", "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Select must be alone."
            )
    if kind in (BUTTON, TEXT_INPUT) or kind in SELECTS:
        _check_interactive(component, path, limits, seen)
    for index, child in enumerate(children):
        _check_tree(child, f"{path}.components.{index}", limits, seen)
    for key in ("accessory", "component"):
        if isinstance(component.get(key), dict):
            _check_tree(component[key], f"{path}.{key}", limits, seen)


def _check_interactive(component: JSON, path: str, limits: Limits, seen: set[str]) -> None:
    custom_id = component.get("custom_id")
    if component.get("type") == BUTTON and component.get("style") == LINK_STYLE:
        if custom_id is not None or not component.get("url"):
            raise form_error(path, "BUTTON_COMPONENT_INVALID_URL", "A link button needs a url.")
        return
    if component.get("type") == BUTTON and component.get("style") == PREMIUM_STYLE:
        return
    if not custom_id:
        raise form_error(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
    if len(custom_id) > limits.max_custom_id:
        raise form_error(
            f"{path}.custom_id",
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {limits.max_custom_id} in length.",
        )
    if custom_id in seen:
        raise form_error(
            f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id duplicated"
        )
    seen.add(custom_id)
    if len(component.get("label") or "") > 80:
        raise form_error(f"{path}.label", "BASE_TYPE_BAD_LENGTH", "Must be 80 or fewer in length.")
    if len(component.get("options") or []) > 25:
        raise form_error(f"{path}.options", "BASE_TYPE_BAD_LENGTH", "Must be 25 or fewer.")


def check_modal(data: JSON, limits: Limits) -> None:
    title = data.get("title") or ""
    if not 1 <= len(title) <= 45:
        raise form_error(
            "data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length."
        )
    custom_id = data.get("custom_id") or ""
    if not 1 <= len(custom_id) <= limits.max_custom_id:
        raise form_error("data.custom_id", "BASE_TYPE_BAD_LENGTH", "Bad custom_id length.")
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        raise form_error(
            "data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    seen: set[str] = set()
    for index, item in enumerate(components):
        path = f"data.components.{index}"
        if item.get("type") == LABEL and len(item.get("label") or "") > 45:
            raise form_error(f"{path}.label", "BASE_TYPE_BAD_LENGTH", "Must be 45 or fewer.")
        _check_tree(item, path, limits, seen)


def check_commands(commands: Any) -> None:
    """The bulk-overwrite rules discord.py does not check for you."""
    if not isinstance(commands, list):
        raise form_error("_root", "MODEL_TYPE_CONVERT", "Expected a list.")
    if len(commands) > 110:
        raise form_error("_root", "BASE_TYPE_MAX_LENGTH", "Must be 110 or fewer in length.")
    names: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        kind = int(command.get("type", 1))
        name = command.get("name", "")
        if (kind, name) in names:
            raise form_error(
                f"{index}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate name {name}"
            )
        names.add((kind, name))
        if kind == 1:
            _check_chat_input(command.get("options") or [], str(index), name, command)


def _check_chat_input(options: list[JSON], path: str, name: str, command: JSON) -> None:
    if not _COMMAND_NAME.match(name) or name != name.lower():
        raise form_error(f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Bad name {name!r}")
    if not 1 <= len(command.get("description") or "") <= 100:
        raise form_error(f"{path}.description", "BASE_TYPE_BAD_LENGTH", "Must be 1 to 100 long.")
    if len(options) > 25:
        raise form_error(f"{path}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer.")
    optional_seen = False
    for index, option in enumerate(options):
        option_path = f"{path}.options.{index}"
        if option.get("type") in (1, 2):
            _check_chat_input(option.get("options") or [], option_path, option["name"], option)
            continue
        if option.get("required"):
            if optional_seen:
                raise form_error(
                    f"{option_path}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        if not _COMMAND_NAME.match(option.get("name", "")):
            raise form_error(f"{option_path}.name", "APPLICATION_COMMAND_INVALID_NAME", "Bad.")
        if len(option.get("choices") or []) > 25:
            raise form_error(f"{option_path}.choices", "BASE_TYPE_MAX_LENGTH", "Max 25 choices.")
