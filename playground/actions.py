"""What a Discord user does: build slash, button, select and modal interactions like the client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playground import payloads
from playground.errors import EmulatorError
from playground.models import (
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    JSON,
    Channel,
    InteractionRecord,
    Message,
    User,
)
from playground.validation import BUTTON, LABEL, SELECTS, TEXT_INPUT
from playground.world import World

FileSpec = tuple[str, bytes, str]
SUBCOMMAND, GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE = 1, 2, 3, 4, 5, 6, 7, 8
NUMBER, ATTACHMENT = 10, 11
STRING_SELECT, USER_SELECT, CHANNEL_SELECT = 3, 5, 7


def new_interaction(
    world: World, kind: int, user: User, ch: Channel, data: JSON, message: Message | None = None
) -> InteractionRecord:
    """Register an interaction under a fresh token and dispatch INTERACTION_CREATE."""
    interaction_id, token = world.snowflake(), world.new_token()
    message_data = payloads.message(world, message) if message is not None else None
    payload = payloads.interaction(
        world,
        interaction_id=interaction_id,
        token=token,
        kind=kind,
        invoker=user,
        ch=ch,
        data=data,
        message_data=message_data,
    )
    rec = InteractionRecord(
        id=interaction_id,
        token=token,
        type=kind,
        user_id=user.id,
        channel_id=ch.id,
        guild_id=ch.guild_id,
        payload=payload,
        created_at=world.clock.now(),
        world=world,
    )
    world.add_interaction(rec)
    world.dispatch("INTERACTION_CREATE", payload)
    return rec


# -- slash commands ---------------------------------------------------------------------------


def slash(
    world: World,
    name: str,
    user: User,
    ch: Channel,
    options: Mapping[str, Any],
    attachments: Mapping[str, FileSpec],
    subcommand: str | None,
) -> InteractionRecord:
    command = _synced_command(world, name, ch)
    definitions, chain = _walk(name, command, subcommand)
    resolved: JSON = {}
    filled = _options(world, name, ch, definitions, options, attachments, resolved)
    data = _command_data(command, name, chain, filled)
    if resolved:
        data["resolved"] = resolved
    return new_interaction(world, INTERACTION_COMMAND, user, ch, data)


def autocomplete(
    world: World,
    name: str,
    user: User,
    ch: Channel,
    options: Mapping[str, Any],
    focused: str,
    subcommand: str | None,
) -> InteractionRecord:
    """What the client sends while `focused` is being typed: the values so far, unchecked, the
    focused one as the text typed. The bot answers with up to 25 choices (callback type 8)."""
    command = _synced_command(world, name, ch)
    definitions, chain = _walk(name, command, subcommand)
    known = {o["name"]: o for o in definitions}
    if focused not in known or not known[focused].get("autocomplete"):
        with_it = sorted(n for n, o in known.items() if o.get("autocomplete"))
        raise EmulatorError(f"/{name} {focused!r} has no autocomplete; these have: {with_it}")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise EmulatorError(f"/{name} has no option {unknown}; it has {sorted(known)}")
    filled: list[JSON] = []
    for definition in definitions:
        option, kind = definition["name"], definition["type"]
        if option == focused:
            value = str(options.get(option, ""))
            filled.append({"name": option, "type": kind, "value": value, "focused": True})
        elif option in options and kind != ATTACHMENT:
            filled.append({"name": option, "type": kind, "value": options[option]})
    data = _command_data(command, name, chain, filled)
    return new_interaction(world, INTERACTION_AUTOCOMPLETE, user, ch, data)


def _walk(name: str, command: JSON, subcommand: str | None) -> tuple[list[JSON], list[JSON]]:
    """The options of `subcommand` ("group sub") and the chain of (group, sub) leading there."""
    definitions: list[JSON] = command.get("options") or []
    chain: list[JSON] = []
    for part in (subcommand or "").split():
        found = next(
            (o for o in definitions if o["name"] == part and o["type"] in (SUBCOMMAND, GROUP)), None
        )
        if found is None:
            names = [o["name"] for o in definitions if o["type"] in (SUBCOMMAND, GROUP)]
            raise EmulatorError(f"/{name} has no subcommand {part!r} here; it has {names}")
        chain.append(found)
        definitions = found.get("options") or []
    nested = [o["name"] for o in definitions if o["type"] in (SUBCOMMAND, GROUP)]
    if nested:
        raise EmulatorError(f"/{name} {subcommand or ''} needs subcommand= one of {nested}")
    return definitions, chain


def _command_data(command: JSON, name: str, chain: list[JSON], filled: list[JSON]) -> JSON:
    for definition in reversed(chain):
        filled = [{"type": definition["type"], "name": definition["name"], "options": filled}]
    data: JSON = {"id": command["id"], "name": name, "type": 1, "options": filled}
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    return data


def _synced_command(world: World, name: str, ch: Channel) -> JSON:
    scopes: list[int | None] = [ch.guild_id, None] if ch.guild_id is not None else [None]
    for scope in scopes:
        for command in world.commands.get(scope, []):
            if command["name"] == name and command["type"] == 1:
                return command
    synced = sorted({c["name"] for scope in scopes for c in world.commands.get(scope, [])})
    raise EmulatorError(f"/{name} was never synced for this channel; synced: {synced}")


def _options(
    world: World,
    name: str,
    ch: Channel,
    definitions: list[JSON],
    options: Mapping[str, Any],
    attachments: Mapping[str, FileSpec],
    resolved: JSON,
) -> list[JSON]:
    known = {o["name"]: o for o in definitions}
    unknown = sorted((set(options) | set(attachments)) - set(known))
    if unknown:
        raise EmulatorError(f"/{name} has no option {unknown}; it has {sorted(known)}")
    filled: list[JSON] = []
    for definition in definitions:
        option, kind = definition["name"], definition["type"]
        if option in attachments and kind != ATTACHMENT:
            raise EmulatorError(f"/{name} {option}: only attachment options take attachments=")
        if option in attachments:
            value: Any = _attach(world, ch, attachments[option], resolved)
        elif option in options:
            if kind == ATTACHMENT:
                raise EmulatorError(f"/{name} {option}: pass files with attachments=")
            value = _convert(world, name, definition, options[option], resolved)
        elif definition.get("required"):
            raise EmulatorError(f"/{name} needs the required option {option!r}")
        else:
            continue
        filled.append({"name": option, "type": kind, "value": value})
    return filled


def _attach(world: World, ch: Channel, spec: FileSpec, resolved: JSON) -> str:
    filename, data, content_type = spec
    att = world.store_attachment(ch.id, filename, content_type, data, ephemeral=True)
    resolved.setdefault("attachments", {})[str(att.id)] = payloads.attachment(att)
    return str(att.id)


def _convert(world: World, name: str, definition: JSON, value: Any, resolved: JSON) -> Any:
    """Type-check like the Discord client: it never sends a value the command rejects."""
    option, kind = definition["name"], definition["type"]
    where = f"/{name} {option}"
    if kind == STRING:
        _require(isinstance(value, str), where, "a str", value)
        low, high = definition.get("min_length", 0), definition.get("max_length", 6000)
        _require(low <= len(value) <= high, where, f"{low}..{high} characters", value)
    elif kind in (INTEGER, NUMBER):
        numeric = isinstance(value, int) or (kind == NUMBER and isinstance(value, float))
        _require(numeric and not isinstance(value, bool), where, "a number", value)
        low, high = definition.get("min_value"), definition.get("max_value")
        _require(low is None or value >= low, where, f">= {low}", value)
        _require(high is None or value <= high, where, f"<= {high}", value)
    elif kind == BOOLEAN:
        _require(isinstance(value, bool), where, "a bool", value)
    elif kind == USER:
        user = world.users.get(value.id if isinstance(value, User) else int(value))
        if user is None:
            raise EmulatorError(f"{where}: expected a known user, got {value!r}")
        _resolve_user(world, resolved, user)
        return str(user.id)
    elif kind == CHANNEL:
        ch = world.channels.get(value.id if isinstance(value, Channel) else int(value))
        if ch is None:
            raise EmulatorError(f"{where}: expected a known channel, got {value!r}")
        data = {**payloads.channel(world, ch), "permissions": payloads.ALL_PERMISSIONS}
        resolved.setdefault("channels", {})[str(ch.id)] = data
        return str(ch.id)
    else:
        raise EmulatorError(f"{where}: option type {kind} is not emulated")
    choices = [c["value"] for c in definition.get("choices") or []]
    _require(not choices or value in choices, where, f"one of {choices}", value)
    return value


def _resolve_user(world: World, resolved: JSON, user: User) -> None:
    resolved.setdefault("users", {})[str(user.id)] = payloads.user(user)
    for guild in world.guilds.values():
        if user.id in guild.member_ids:
            member = payloads.member(guild, user, with_user=False, permissions=True)
            resolved.setdefault("members", {})[str(user.id)] = member
            break


def _require(ok: bool, where: str, expected: str, value: Any) -> None:
    if not ok:
        raise EmulatorError(f"{where}: expected {expected}, got {value!r}")


# -- components -------------------------------------------------------------------------------


def component_of(world: World, message_id: int, custom_id: str, user: User) -> tuple[Message, JSON]:
    msg = world.messages.get(message_id)
    if msg is None or msg.deleted:
        raise EmulatorError(f"message {message_id} does not exist (or was deleted)")
    if msg.ephemeral and (msg.interaction_metadata or {}).get("user", {}).get("id") != str(user.id):
        raise EmulatorError(f"message {message_id} is ephemeral: only its invoker sees it")
    component = msg.find_component(custom_id)
    if component is None:
        raise EmulatorError(f"message {message_id} has no {custom_id!r}; it has {msg.custom_ids()}")
    if component.get("disabled"):
        raise EmulatorError(f"{custom_id!r} on message {message_id} is disabled")
    return msg, component


def click(world: World, message_id: int, custom_id: str, user: User) -> InteractionRecord:
    msg, component = component_of(world, message_id, custom_id, user)
    if component["type"] != BUTTON:
        raise EmulatorError(f"{custom_id!r} is component type {component['type']}: use select()")
    data: JSON = {"custom_id": custom_id, "component_type": BUTTON}
    if "id" in component:
        data["id"] = component["id"]
    return new_interaction(
        world, INTERACTION_COMPONENT, user, world.channel(msg.channel_id), data, msg
    )


def select(
    world: World, message_id: int, custom_id: str, values: list[Any], user: User
) -> InteractionRecord:
    msg, component = component_of(world, message_id, custom_id, user)
    kind = component["type"]
    if kind not in SELECTS:
        raise EmulatorError(f"{custom_id!r} is component type {kind}: use click()")
    data: JSON = {"custom_id": custom_id, "component_type": kind}
    data["values"] = _select_values(world, component, values, data)
    return new_interaction(
        world, INTERACTION_COMPONENT, user, world.channel(msg.channel_id), data, msg
    )


def _select_values(world: World, component: JSON, values: list[Any], data: JSON) -> list[str]:
    custom_id, kind = component["custom_id"], component["type"]
    low, high = component.get("min_values", 1), component.get("max_values", 1)
    if not low <= len(values) <= high:
        raise EmulatorError(f"{custom_id!r} takes {low}..{high} values, got {len(values)}")
    if kind == STRING_SELECT:
        allowed = [o["value"] for o in component.get("options") or []]
        if any(v not in allowed for v in values):
            raise EmulatorError(f"{custom_id!r} options are {allowed}, got {values}")
        return [str(v) for v in values]
    resolved: JSON = {}
    ids: list[str] = []
    for value in values:
        if kind == USER_SELECT:
            user = value if isinstance(value, User) else world.users[int(value)]
            _resolve_user(world, resolved, user)
            ids.append(str(user.id))
        elif kind == CHANNEL_SELECT:
            ch = value if isinstance(value, Channel) else world.channel(int(value))
            resolved.setdefault("channels", {})[str(ch.id)] = payloads.channel(world, ch)
            ids.append(str(ch.id))
        else:
            raise EmulatorError(f"select type {kind} is not emulated")
    data["resolved"] = resolved
    return ids


# -- modals -----------------------------------------------------------------------------------


def submit_modal(
    world: World, opened_by: InteractionRecord, values: Mapping[str, Any], user: User
) -> InteractionRecord:
    """Mirror the type-9 layout (rows or labels) the bot sent, filled with `values`."""
    modal = opened_by.modal
    if modal is None:
        raise EmulatorError(
            f"interaction {opened_by.id} opened no modal (response type {opened_by.response_type})"
        )
    fields = [
        field.get("custom_id")
        for item in modal.get("components") or []
        for field in [*(item.get("components") or []), item.get("component") or {}]
    ]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise EmulatorError(f"modal {modal['custom_id']!r} has no field {unknown}; it has {fields}")
    remaining = dict(values)
    components: list[JSON] = []
    for item in modal.get("components") or []:
        if item["type"] == 1:
            children = [_submitted(child, remaining) for child in item.get("components") or []]
            components.append({"type": 1, "id": item.get("id"), "components": children})
        elif item["type"] == LABEL:
            filled = _submitted(item["component"], remaining)
            components.append({"type": LABEL, "id": item.get("id"), "component": filled})
        else:
            components.append({"type": item["type"], "id": item.get("id")})
    data: JSON = {"custom_id": modal["custom_id"], "components": components}
    source = world.messages.get(opened_by.source_message_id or 0)
    ch = world.channel(opened_by.channel_id)
    return new_interaction(world, INTERACTION_MODAL_SUBMIT, user, ch, data, source)


def _submitted(component: JSON, remaining: dict[str, Any]) -> JSON:
    custom_id, kind = component.get("custom_id", ""), component.get("type")
    if kind == TEXT_INPUT:
        value = str(remaining.pop(custom_id, component.get("value") or ""))
        if component.get("required", True) and not value:
            raise EmulatorError(f"modal field {custom_id!r} is required")
        low, high = component.get("min_length", 0), component.get("max_length", 4000)
        if value and not low <= len(value) <= high:
            raise EmulatorError(f"modal field {custom_id!r} takes {low}..{high} characters")
        return {
            "type": TEXT_INPUT,
            "id": component.get("id"),
            "custom_id": custom_id,
            "value": value,
        }
    if kind == STRING_SELECT:
        values = list(remaining.pop(custom_id, []))
        chosen = _select_values_plain(component, values)
        return {"type": kind, "id": component.get("id"), "custom_id": custom_id, "values": chosen}
    raise EmulatorError(f"modal component type {kind} is not emulated")


def _select_values_plain(component: JSON, values: list[Any]) -> list[str]:
    allowed = [o["value"] for o in component.get("options") or []]
    low = component.get("min_values", 1) if component.get("required", True) else 0
    high = component.get("max_values", 1)
    if not low <= len(values) <= high or any(v not in allowed for v in values):
        raise EmulatorError(f"{component['custom_id']!r} takes {low}..{high} of {allowed}")
    return [str(v) for v in values]
