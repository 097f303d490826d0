// One message as Discord draws it: header, content, files, embeds, components, reactions.
// Interactive parts only carry data-action attributes; the timeline handles the clicks.
'use strict';

import { escapeHtml, formatTimestamp, markdown, snowflakeTime } from './markdown.js';

const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp)$/i;
const MAX_WIDTH = 400;
const MAX_HEIGHT = 300;
const PALETTE = ['#5865f2', '#3ba55c', '#faa61a', '#ed4245', '#eb459e', '#747f8d'];
const FLAG_COMPONENTS_V2 = 1 << 15;

export function el(tag, className, html) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (html !== undefined) node.innerHTML = html;
  return node;
}

export function avatar(user, size = '') {
  const node = el('span', `avatar ${size}`.trim());
  const name = user?.username || '?';
  const hash = [...String(user?.id || name)].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
  node.style.background = user?.bot ? PALETTE[0] : PALETTE[1 + (hash % (PALETTE.length - 1))];
  node.textContent = name.slice(0, 1);
  return node;
}

function when(date) {
  const today = new Date();
  const time = formatTimestamp(date, 't');
  if (date.toDateString() === today.toDateString()) return `Today at ${time}`;
  const yesterday = new Date(today.getTime() - 86400000);
  if (date.toDateString() === yesterday.toDateString()) return `Yesterday at ${time}`;
  return `${formatTimestamp(date, 'd')} ${time}`;
}

function isImage(att) {
  return (att.content_type || '').startsWith('image/') || IMAGE.test(att.filename || '');
}

/** Width and height that fit the box, so the page does not jump when the image arrives. */
function fit(width, height, maxW = MAX_WIDTH, maxH = MAX_HEIGHT) {
  if (!width || !height) return [maxW, null];
  const scale = Math.min(1, maxW / width, maxH / height);
  return [Math.round(width * scale), Math.round(height * scale)];
}

function emojiHtml(emoji) {
  if (!emoji) return '';
  const name = emoji.id ? `:${emoji.name}:` : emoji.name;
  return `<span class="emoji">${escapeHtml(name || '')}</span>`;
}

export function renderMessage(m, ctx) {
  const author = m.author;
  const li = el('li', 'msg');
  li.dataset.id = m.id;
  li.dataset.author = author.id;
  if (m.ephemeral_for) li.classList.add('ephemeral');
  if (m.command && m.interaction_metadata) {
    const context = el('div', 'reply-context');
    const user = m.interaction_metadata.user;
    context.append(avatar(user, 'tiny'));
    context.insertAdjacentHTML('beforeend',
      `<span class="who">${escapeHtml(user.global_name || user.username)}</span> used <span class="command">/${escapeHtml(m.command)}</span>`);
    li.append(context);
  }
  li.append(avatar(author));
  const body = el('div', 'body');
  const header = el('div', 'header');
  header.innerHTML = `<span class="author">${escapeHtml(author.global_name || author.username)}</span>` +
    (author.bot ? '<span class="app-tag">APP</span>' : '') +
    `<time class="when" datetime="${escapeHtml(m.timestamp)}">${escapeHtml(when(new Date(m.timestamp)))}</time>`;
  body.append(header);
  if (m.loading) {
    body.append(el('div', 'content', `<span class="thinking">${escapeHtml(author.username)} is thinking<span class="dots"><span>.</span><span>.</span><span>.</span></span></span>`));
  } else if (m.content) {
    const content = el('div', 'content md', markdown(m.content, ctx));
    if (m.edited_timestamp) content.insertAdjacentHTML('beforeend', '<span class="edited" title="edited">(edited)</span>');
    body.append(content);
  }
  const inEmbeds = new Set();
  const embeds = (m.embeds || []).map((embed) => renderEmbed(embed, m, ctx, inEmbeds));
  const files = (m.attachments || []).filter((att) => !inEmbeds.has(att.filename));
  if (files.length) body.append(renderAttachments(files));
  if (embeds.length) body.append(...embeds);
  if ((m.components || []).length) body.append(renderComponents(m.components, m.flags & FLAG_COMPONENTS_V2, ctx));
  body.append(renderReactions(m, ctx));
  const add = el('button', 'add-reaction', '😀+');
  add.type = 'button';
  add.title = 'Add reaction';
  add.dataset.action = 'add-reaction';
  li.append(add);
  if (m.ephemeral_for) {
    body.append(el('div', 'ephemeral-note',
      '<span aria-hidden="true">👁</span> Only you can see this • <button type="button" data-action="dismiss">Dismiss message</button>'));
  }
  li.append(body);
  return li;
}

/** `attachment://name` points at the message's own file, which is then not shown twice. */
function resolveUrl(url, m, used) {
  if (!url || !url.startsWith('attachment://')) return url;
  const name = url.slice('attachment://'.length);
  const att = (m.attachments || []).find((a) => a.filename === name);
  if (!att) return null;
  used.add(name);
  return att.url;
}

function renderEmbed(embed, m, ctx, used) {
  const box = el('div', 'embed');
  if (embed.color !== undefined && embed.color !== null) {
    box.style.borderLeftColor = `#${Number(embed.color).toString(16).padStart(6, '0')}`;
  }
  const thumbnail = resolveUrl(embed.thumbnail?.url, m, used);
  if (thumbnail) box.append(Object.assign(el('img', 'embed-thumbnail'), { src: thumbnail, alt: '' }));
  if (embed.author?.name) box.append(el('div', 'embed-author', escapeHtml(embed.author.name)));
  if (embed.title) {
    const title = markdown(embed.title, ctx, { inline: true });
    const href = embed.url && /^https?:/.test(embed.url) ? embed.url : null;
    box.append(el('div', 'embed-title', href
      ? `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${title}</a>` : title));
  }
  if (embed.description) box.append(el('div', 'embed-description md', markdown(embed.description, ctx)));
  if ((embed.fields || []).length) {
    const fields = el('div', 'embed-fields');
    for (const field of embed.fields) {
      const node = el('div', `embed-field${field.inline ? ' inline' : ''}`);
      node.innerHTML = `<div class="name md">${markdown(field.name, ctx, { inline: true })}</div>` +
        `<div class="value md">${markdown(field.value, ctx)}</div>`;
      fields.append(node);
    }
    box.append(fields);
  }
  const image = resolveUrl(embed.image?.url, m, used);
  if (image) {
    const img = Object.assign(el('img', 'embed-image'), { src: image, alt: '', loading: 'lazy' });
    img.dataset.action = 'open-image';
    img.dataset.full = image;
    const [w, h] = fit(embed.image.width, embed.image.height, 516, 300);
    if (h) Object.assign(img, { width: w, height: h });
    box.append(img);
  }
  const footer = [embed.footer?.text, embed.timestamp ? when(new Date(embed.timestamp)) : null].filter(Boolean);
  if (footer.length) box.append(el('div', 'embed-footer', footer.map(escapeHtml).join(' • ')));
  return box;
}

function renderAttachments(files) {
  const box = el('div', 'attachments');
  for (const att of files) {
    if (isImage(att)) {
      const [w, h] = fit(att.width, att.height);
      const link = el('a', 'attachment-image');
      link.href = att.url;
      link.dataset.action = 'open-image';
      link.dataset.full = att.url;
      const img = Object.assign(el('img'), { src: att.url, alt: att.filename, loading: 'lazy', width: w });
      if (h) img.height = h;
      link.append(img);
      box.append(link);
    } else {
      const size = att.size >= 1048576 ? `${(att.size / 1048576).toFixed(2)} MB` : `${(att.size / 1024).toFixed(1)} KB`;
      box.append(el('div', 'attachment-file',
        `<span aria-hidden="true">📄</span><span><a href="${escapeHtml(att.url)}" download="${escapeHtml(att.filename)}">${escapeHtml(att.filename)}</a><br><span class="size">${size}</span></span>`));
    }
  }
  return box;
}

function renderComponents(components, v2, ctx) {
  const box = el('div', 'components');
  for (const component of components) box.append(renderComponent(component, ctx));
  return box;
}

function renderComponent(c, ctx) {
  switch (c.type) {
    case 1: {
      const row = el('div', 'action-row');
      for (const child of c.components || []) row.append(renderComponent(child, ctx));
      return row;
    }
    case 2: return renderButton(c);
    case 3: case 5: case 6: case 7: case 8: return renderSelect(c, ctx);
    case 10: return el('div', 'content md', markdown(c.content, ctx));
    case 9: {
      const section = el('div', 'section');
      const texts = el('div');
      for (const child of c.components || []) texts.append(renderComponent(child, ctx));
      section.append(texts);
      if (c.accessory) section.append(renderComponent(c.accessory, ctx));
      return section;
    }
    case 14: return el('hr', 'separator');
    case 17: {
      const box = el('div', 'container');
      if (c.accent_color) box.style.borderLeftColor = `#${Number(c.accent_color).toString(16).padStart(6, '0')}`;
      for (const child of c.components || []) box.append(renderComponent(child, ctx));
      return box;
    }
    default: return el('div', 'content', `<em>(component type ${Number(c.type)})</em>`);
  }
}

function renderButton(c) {
  const node = buttonNode(c);
  node.dataset.label = c.label || c.emoji?.name || '';
  return node;
}

function buttonNode(c) {
  const label = `${emojiHtml(c.emoji)}${c.label ? `<span class="label">${escapeHtml(c.label)}</span>` : ''}`;
  if (c.style === 5) {
    const link = el('a', 'component-button style-5', `${label}<span class="external" aria-hidden="true">↗</span>`);
    if (c.disabled) link.setAttribute('aria-disabled', 'true');
    else {
      link.href = c.url;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
    }
    link.title = c.url;
    return link;
  }
  const button = el('button', `component-button style-${Number(c.style) || 2}`, label);
  button.type = 'button';
  button.disabled = Boolean(c.disabled);
  button.dataset.action = 'button';
  button.dataset.customId = c.custom_id;
  return button;
}

function selectOptions(c, ctx) {
  switch (c.type) {
    case 3: return (c.options || []).map((o) => ({ value: o.value, label: o.label, description: o.description, emoji: o.emoji, chosen: o.default }));
    case 5: return ctx.people().map((u) => ({ value: u.id, label: u.username }));
    case 7: return ctx.channels().map((ch) => ({ value: ch.id, label: `#${ch.name}` }));
    default: return ctx.people().map((u) => ({ value: u.id, label: u.username }));
  }
}

function renderSelect(c, ctx) {
  const box = el('div', 'select-menu');
  box.dataset.customId = c.custom_id;
  const options = selectOptions(c, ctx);
  const chosen = options.filter((o) => o.chosen).map((o) => o.label);
  const toggle = el('button', '', chosen.length
    ? `<span>${escapeHtml(chosen.join(', '))}</span><span aria-hidden="true">⌄</span>`
    : `<span class="placeholder">${escapeHtml(c.placeholder || 'Make a selection')}</span><span aria-hidden="true">⌄</span>`);
  toggle.type = 'button';
  toggle.disabled = Boolean(c.disabled);
  toggle.dataset.action = 'select-open';
  box.append(toggle);
  box._component = c;
  box._options = options;
  return box;
}

function renderReactions(m, ctx) {
  const box = el('div', 'reactions');
  for (const reaction of m.reactions || []) {
    const emoji = reaction.emoji.id ? `${reaction.emoji.name}:${reaction.emoji.id}` : reaction.emoji.name;
    const users = (m.reacted || {})[emoji] || [];
    const button = el('button', `reaction${users.includes(ctx.me) ? ' mine' : ''}`,
      `${emojiHtml(reaction.emoji)}<span class="count">${reaction.count}</span>`);
    button.type = 'button';
    button.dataset.action = 'react';
    button.dataset.emoji = emoji;
    button.title = users.map((id) => ctx.userName(id)).join(', ');
    box.append(button);
  }
  return box;
}

/** A rule the bot broke, as a system line where it happened. */
export function renderNotice(notice) {
  const li = el('li', 'notice');
  li.dataset.kind = notice.kind;
  li.innerHTML = '<span class="notice-title">⚠ Discord would refuse this</span>' +
    `<span class="notice-kind">${escapeHtml(notice.kind)}${notice.status ? ` · ${notice.status}` : ''}${notice.code ? ` · ${notice.code}` : ''}</span>` +
    `<span class="notice-text">${escapeHtml(notice.message)}</span>`;
  return li;
}

export function messageTime(m) {
  return snowflakeTime(m.id);
}
