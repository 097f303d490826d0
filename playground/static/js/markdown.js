// Discord's message markdown, rendered to safe HTML: everything is escaped first, and every
// piece of HTML this module makes is held aside (a placeholder) so no later rule touches it.
'use strict';

const HOLD = '\u0001';
const DISCORD_EPOCH = 1420070400000;
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'long', timeStyle: 'short' });
const formats = {
  t: new Intl.DateTimeFormat(undefined, { timeStyle: 'short' }),
  T: new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' }),
  d: new Intl.DateTimeFormat(undefined, { dateStyle: 'short' }),
  D: new Intl.DateTimeFormat(undefined, { dateStyle: 'long' }),
  f: dateTime,
  F: new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' }),
};
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const UNITS = [
  ['year', 365 * 24 * 3600], ['month', 30 * 24 * 3600], ['day', 24 * 3600],
  ['hour', 3600], ['minute', 60], ['second', 1],
];

export function escapeHtml(text) {
  return String(text)
    .replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

/** The creation time of a snowflake id, in ms since 1970. */
export function snowflakeTime(id) {
  return Number(BigInt(id) >> 22n) + DISCORD_EPOCH;
}

/** `<t:…:R>` and friends: "in 5 minutes", "20 April 2021 16:20"… */
export function formatTimestamp(date, style) {
  if (style === 'R') {
    const seconds = Math.round((date.getTime() - Date.now()) / 1000);
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size || unit === 'second') {
        return relative.format(Math.round(seconds / size), unit);
      }
    }
  }
  return (formats[style] || dateTime).format(date);
}

/** Keep every relative timestamp under `root` current. */
export function refreshRelative(root) {
  for (const el of root.querySelectorAll('time.timestamp[data-style="R"]')) {
    el.textContent = formatTimestamp(new Date(Number(el.dataset.ts) * 1000), 'R');
  }
}

function safeUrl(url) {
  return /^https?:\/\//i.test(url) ? url : null;
}

/**
 * `text` as HTML. `ctx.userName(id)`, `ctx.channelName(id)` name mentions; `inline` leaves out
 * block rules (headers, quotes, lists), as in embed titles and field names.
 */
export function markdown(text, ctx, { inline = false } = {}) {
  const held = [];
  const hold = (html) => `${HOLD}${held.push(html) - 1}${HOLD}`;
  let source = String(text ?? '');
  // 1. code: nothing inside is formatted
  source = source.replace(/```(?:([\w+-]+)\n)?([\s\S]*?)```/g, (_, lang, code) =>
    hold(`<pre><code>${escapeHtml(code.replace(/^\n/, ''))}</code></pre>`));
  source = source.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, ticks, code) =>
    hold(`<code>${escapeHtml(code)}</code>`));
  // 2. escaped characters stand for themselves
  source = source.replace(/\\([*_~`|\\<>#[\]()-])/g, (_, ch) => hold(escapeHtml(ch)));
  let html = escapeHtml(source);
  // 3. things with ids: mentions, channels, timestamps, custom emoji, links
  html = html
    .replace(/&lt;@!?(\d+)&gt;/g, (_, id) => hold(`<span class="mention" data-user-id="${id}">@${escapeHtml(ctx.userName(id))}</span>`))
    .replace(/&lt;@&amp;(\d+)&gt;/g, (_, id) => hold(`<span class="mention" data-role-id="${id}">@${escapeHtml(ctx.roleName(id))}</span>`))
    .replace(/&lt;#(\d+)&gt;/g, (_, id) => hold(`<span class="mention" data-channel-id="${id}">#${escapeHtml(ctx.channelName(id))}</span>`))
    .replace(/@(everyone|here)\b/g, (_, who) => hold(`<span class="mention">@${who}</span>`))
    .replace(/&lt;t:(-?\d{1,13})(?::([tTdDfFR]))?&gt;/g, (_, ts, style = 'f') => {
      const date = new Date(Number(ts) * 1000);
      return hold(`<time class="timestamp" data-ts="${ts}" data-style="${style}" title="${escapeHtml(dateTime.format(date))}">${escapeHtml(formatTimestamp(date, style))}</time>`);
    })
    .replace(/&lt;a?:(\w{2,32}):(\d+)&gt;/g, (_, name) => hold(`<span class="custom-emoji">:${name}:</span>`))
    .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (whole, label, url) => {
      const href = safeUrl(url.replaceAll('&amp;', '&'));
      return href ? hold(`<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${label}</a>`) : whole;
    })
    .replace(/https?:\/\/[^\s<>\u0001]+[^\s<>.,:;"')\]\u0001]/g, (url) =>
      hold(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`));
  // 4. emphasis, innermost last
  html = html
    .replace(/\*\*([\s\S]+?)\*\*(?!\*)/g, '<strong>$1</strong>')
    .replace(/__([\s\S]+?)__(?!_)/g, '<u>$1</u>')
    .replace(/\*(?!\s)([\s\S]+?)\*/g, '<em>$1</em>')
    .replace(/(^|[^\w])_(?!\s)([\s\S]+?)_(?!\w)/g, '$1<em>$2</em>')
    .replace(/~~([\s\S]+?)~~/g, '<s>$1</s>')
    .replace(/\|\|([\s\S]+?)\|\|/g, '<span class="spoiler">$1</span>');
  if (!inline) html = blocks(html);
  return html.replace(new RegExp(`${HOLD}(\\d+)${HOLD}`, 'g'), (_, n) => held[Number(n)]);
}

/** Headers, subtext, quotes and lists: whole lines. Newlines after a block are dropped. */
function blocks(html) {
  const out = [];
  let quote = null;
  let list = null;
  const flush = () => {
    if (quote) out.push({ block: true, html: `<blockquote>${quote.join('\n')}</blockquote>` });
    if (list) out.push({ block: true, html: `<ul>${list.map((item) => `<li>${item}</li>`).join('')}</ul>` });
    quote = null;
    list = null;
  };
  for (const line of html.split('\n')) {
    let match;
    if ((match = /^&gt; ?(.*)$/.exec(line))) {
      if (list) flush();
      (quote ??= []).push(match[1]);
    } else if ((match = /^\s*[-*] (.+)$/.exec(line))) {
      if (quote) flush();
      (list ??= []).push(match[1]);
    } else {
      flush();
      if ((match = /^(#{1,3}) (.+)$/.exec(line))) {
        const level = match[1].length;
        out.push({ block: true, html: `<h${level}>${match[2]}</h${level}>` });
      } else if ((match = /^-# (.+)$/.exec(line))) {
        out.push({ block: true, html: `<span class="subtext">${match[1]}</span>` });
      } else {
        out.push({ block: false, html: line });
      }
    }
  }
  flush();
  return out.map((part, i) => part.html + (i < out.length - 1 && !part.block ? '\n' : '')).join('');
}
