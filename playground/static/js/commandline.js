// Slash commands as text: which synced command a line names, where each `option:` value sits,
// and the typed values the Discord client would send (it never sends a value a command refuses).
'use strict';

export const TYPE_NAMES = {
  3: 'text', 4: 'integer', 5: 'true/false', 6: 'user', 7: 'channel', 8: 'role',
  9: 'mentionable', 10: 'number', 11: 'file',
};
export const ATTACHMENT = 11;

/** One entry per runnable command: `/prefer option set` is its own entry, as in Discord. */
export function flatten(commands) {
  const entries = [];
  for (const command of commands) {
    if ((command.type || 1) !== 1) continue;
    const options = command.options || [];
    const nested = options.filter((o) => o.type === 1 || o.type === 2);
    if (!nested.length) {
      entries.push({ path: command.name, name: command.name, subcommand: null, description: command.description, options });
      continue;
    }
    for (const sub of nested) {
      const leaves = sub.type === 2 ? (sub.options || []).map((leaf) => [`${sub.name} ${leaf.name}`, leaf]) : [[sub.name, sub]];
      for (const [subcommand, leaf] of leaves) {
        entries.push({
          path: `${command.name} ${subcommand}`, name: command.name, subcommand,
          description: leaf.description, options: leaf.options || [],
        });
      }
    }
  }
  return entries.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The entry a line names, or the query typed so far. While typing, a command is chosen once a
 * space follows its name (until then the list is open, as in Discord); `sending` also takes
 * the bare name.
 */
export function parseLine(text, entries, { sending = false } = {}) {
  if (!text.startsWith('/')) return { entry: null, query: null };
  const body = text.slice(1);
  let best = null;
  for (const entry of entries) {
    const named = body.startsWith(`${entry.path} `) || (sending && body === entry.path);
    if (named && (!best || entry.path.length > best.path.length)) {
      best = entry;
    }
  }
  if (best) return { entry: best, restStart: 1 + best.path.length };
  return { entry: null, query: body.trimStart().toLowerCase() };
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Where each `name:` of the entry's options starts, and its value up to the next one. */
export function segments(text, restStart, entry) {
  const names = entry.options.filter((o) => o.type !== ATTACHMENT).map((o) => o.name);
  const found = [];
  if (names.length) {
    const markers = new RegExp(`(^|\\s)(${names.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')}):`, 'g');
    markers.lastIndex = restStart;
    let match;
    while ((match = markers.exec(text))) {
      const start = match.index + match[1].length;
      found.push({ name: match[2], markerStart: start, valueStart: start + match[2].length + 1 });
    }
  }
  for (let i = 0; i < found.length; i += 1) {
    const end = i + 1 < found.length ? found[i + 1].markerStart : text.length;
    found[i].valueEnd = end;
    found[i].value = text.slice(found[i].valueStart, end).trim();
    found[i].option = entry.options.find((o) => o.name === found[i].name);
  }
  const leadingEnd = found.length ? found[0].markerStart : text.length;
  const leading = text.slice(restStart, leadingEnd).trim();
  return { leading, found };
}

/** A value typed for `option`, as the Discord client would send it; throws what is wrong. */
export function convert(option, raw, ctx) {
  const where = `${option.name}:`;
  const text = String(raw).trim();
  if (option.choices?.length) {
    const hit = option.choices.find((c) => String(c.value) === text) ||
      option.choices.find((c) => c.name.toLowerCase() === text.toLowerCase());
    if (!hit) throw new Error(`${where} pick one of ${option.choices.map((c) => c.name).join(', ')}`);
    return hit.value;
  }
  switch (option.type) {
    case 3: {
      const low = option.min_length ?? 0;
      const high = option.max_length ?? 6000;
      if (text.length < Math.max(low, 1)) throw new Error(`${where} must be at least ${Math.max(low, 1)} characters`);
      if (text.length > high) throw new Error(`${where} must be at most ${high} characters`);
      return text;
    }
    case 4: case 10: {
      const ok = option.type === 4 ? /^-?\d+$/.test(text) : /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(text);
      if (!ok) throw new Error(`${where} must be ${option.type === 4 ? 'a whole number' : 'a number'}`);
      const value = Number(text);
      if (option.min_value !== undefined && value < option.min_value) throw new Error(`${where} must be at least ${option.min_value}`);
      if (option.max_value !== undefined && value > option.max_value) throw new Error(`${where} must be at most ${option.max_value}`);
      return value;
    }
    case 5: {
      const lower = text.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(lower)) return true;
      if (['false', 'no', 'off', '0'].includes(lower)) return false;
      throw new Error(`${where} must be True or False`);
    }
    case 6: case 9: {
      const key = text.replace(/^<@!?|>$/g, '').replace(/^@/, '').toLowerCase();
      const user = ctx.people().find((u) => u.id === key || u.username.toLowerCase() === key);
      if (!user) throw new Error(`${where} no member named ${text}`);
      return user.id;
    }
    case 7: {
      const key = text.replace(/^<#|>$/g, '').replace(/^#/, '').toLowerCase();
      const channel = ctx.channels().find((c) => c.id === key || c.name.toLowerCase() === key);
      if (!channel) throw new Error(`${where} no channel named ${text}`);
      return channel.id;
    }
    case 8:
      if (!/^@?everyone$/i.test(text)) throw new Error(`${where} the only role here is @everyone`);
      return ctx.guildId();
    default:
      throw new Error(`${where} options of type ${option.type} cannot be typed`);
  }
}

/** The options of a command line, checked: `{options, missing}` or a thrown Error. */
export function collect(text, parsed, files, ctx) {
  const { entry } = parsed;
  const { leading, found } = segments(text, parsed.restStart, entry);
  const values = {};
  for (const segment of found) {
    if (segment.name in values) throw new Error(`${segment.name}: is given twice`);
    if (!segment.value) continue;
    values[segment.name] = convert(segment.option, segment.value, ctx);
  }
  if (leading) {
    // Text before any `name:` fills the first required option still empty, as a convenience.
    const target = entry.options.find((o) => o.required && o.type !== ATTACHMENT && !(o.name in values));
    if (!target) throw new Error(`"${leading}" is not in any option: write name: before it`);
    values[target.name] = convert(target, leading, ctx);
  }
  const missing = entry.options.filter((o) => o.required && !(o.name in values) && !(o.type === ATTACHMENT && files.has(o.name)));
  if (missing.length) throw new Error(`Missing required option${missing.length > 1 ? 's' : ''}: ${missing.map((o) => o.name).join(', ')}`);
  return values;
}
