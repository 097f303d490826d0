// A channel's history: paged (50 at a time, older pages as you scroll up), kept in time order,
// updated in place as the bot edits, pinned to the bottom while you are at the bottom.
'use strict';

import { getJSON } from './api.js';
import { el, messageTime, renderMessage, renderNotice } from './render.js';

const PAGE = 50;
const PIN_SLACK = 40; // px from the bottom that still counts as "at the bottom"
const NEAR_TOP = 800; // px from the top where the page before is asked for

export class Timeline {
  constructor({ scroller, list, top, ctx, actions }) {
    Object.assign(this, { scroller, list, top, ctx, actions });
    this.channelId = null;
    this.items = []; // {key, id, kind: 'message' | 'notice' | 'pending', data, el}
    this.byId = new Map();
    this.hasMore = false;
    this.loading = null;
    this.pinned = true;
    this.dismissed = new Set();
    this.generation = 0;
    scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    new ResizeObserver(() => { if (this.pinned) this.toBottom(); }).observe(list);
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadOlder();
    }, { root: scroller, rootMargin: `${NEAR_TOP}px 0px 0px 0px` }).observe(top);
    list.addEventListener('click', (event) => this.onClick(event));
  }

  // -- loading -------------------------------------------------------------------------------

  async open(channelId, notices) {
    const generation = ++this.generation;
    this.channelId = channelId;
    this.items = [];
    this.byId.clear();
    this.list.replaceChildren();
    this.top.textContent = 'Loading…';
    const page = await getJSON(`/client/channels/${channelId}/messages?limit=${PAGE}`);
    if (generation !== this.generation) return; // another channel was opened meanwhile
    this.hasMore = page.has_more;
    for (const m of page.messages) this.upsert(m);
    const oldest = this.items.length ? this.items[0].key : 0;
    for (const n of notices) if (Date.parse(n.at) >= oldest || !this.hasMore) this.notice(n);
    this.showTop();
    this.pinned = true;
    this.toBottom();
  }

  async loadOlder() {
    if (!this.hasMore || this.loading || this.channelId === null) return;
    const first = this.items.find((item) => item.kind === 'message');
    if (!first) return;
    const generation = this.generation;
    this.loading = getJSON(`/client/channels/${this.channelId}/messages?limit=${PAGE}&before=${first.id}`);
    try {
      const page = await this.loading;
      if (generation !== this.generation) return;
      const height = this.scroller.scrollHeight;
      const top = this.scroller.scrollTop;
      const fragment = document.createDocumentFragment();
      const older = page.messages.filter((m) => !this.byId.has(m.id));
      const items = older.map((m) => this.item(m));
      for (const item of items) if (item.el) fragment.append(item.el);
      this.items.unshift(...items);
      for (const item of items) this.byId.set(item.id, item);
      this.list.prepend(fragment);
      this.hasMore = page.has_more;
      this.showTop();
      // Keep what was on screen where it was, unless the browser's scroll anchoring did.
      if (Math.abs(this.scroller.scrollTop - top) < 1) {
        this.scroller.scrollTop = top + (this.scroller.scrollHeight - height);
      }
    } finally {
      this.loading = null;
    }
    if (this.scroller.scrollTop < NEAR_TOP) requestAnimationFrame(() => this.loadOlder());
  }

  showTop() {
    const name = this.ctx.channelTitle(this.channelId);
    this.top.textContent = this.hasMore ? 'Loading older messages…' : `This is the beginning of ${name}.`;
  }

  // -- changes -------------------------------------------------------------------------------

  item(m) {
    const item = { key: messageTime(m), id: m.id, kind: 'message', data: m, el: null };
    item.el = this.visible(m) ? renderMessage(m, this.ctx) : null;
    return item;
  }

  visible(m) {
    return !this.dismissed.has(m.id) && (!m.ephemeral_for || m.ephemeral_for === this.ctx.me);
  }

  /** A new or edited message of this channel. */
  upsert(m) {
    if (m.channel_id !== this.channelId) return;
    const existing = this.byId.get(m.id);
    if (existing) {
      const note = existing.el?.querySelector('.failed');
      existing.data = m;
      const fresh = this.visible(m) ? renderMessage(m, this.ctx) : null;
      if (fresh && note) fresh.querySelector('.body').append(note);
      if (existing.el && fresh) existing.el.replaceWith(fresh);
      else if (existing.el) existing.el.remove();
      existing.el = fresh;
      if (fresh && !existing.el?.isConnected) this.place(existing);
      return;
    }
    const item = this.item(m);
    this.byId.set(item.id, item);
    this.insert(item);
  }

  remove(id) {
    const item = this.byId.get(id);
    if (!item) return;
    item.el?.remove();
    this.byId.delete(id);
    this.items.splice(this.items.indexOf(item), 1);
  }

  notice(n) {
    const item = { key: Date.parse(n.at), id: `notice-${n.at}-${n.kind}`, kind: 'notice', data: n, el: renderNotice(n) };
    this.insert(item);
  }

  /** "alice used /imagine — Sending command…" until the bot answers. */
  pending(interactionId, label) {
    const li = el('li', 'msg pending');
    li.dataset.interaction = interactionId;
    li.append(el('span', ''));
    const body = el('div', 'body');
    body.append(el('div', 'reply-context', `<span class="who">${this.ctx.userName(this.ctx.me)}</span> used <span class="command">/${label}</span>`));
    body.append(el('div', 'content', 'Sending command…'));
    li.append(body);
    const item = { key: Date.now(), id: `pending-${interactionId}`, kind: 'pending', data: null, el: li };
    this.byId.set(item.id, item);
    this.insert(item);
  }

  settle(interaction) {
    const pending = this.byId.get(`pending-${interaction.id}`);
    const failed = interaction.failed;
    if (pending && (interaction.acknowledged || failed)) {
      if (failed) {
        pending.el.querySelector('.content').textContent = '';
        pending.el.querySelector('.content').append(el('span', 'failed', 'The application did not respond'));
      } else {
        this.remove(pending.id);
      }
    }
    if (failed && interaction.type === 3 && interaction.message_id) this.failedOn(interaction);
  }

  failedOn(interaction) {
    const item = this.byId.get(interaction.message_id);
    if (item?.el && !item.el.querySelector('.failed')) {
      item.el.querySelector('.body').append(el('div', 'failed', 'This interaction failed'));
    }
  }

  /** In time order; while pinned, the list's ResizeObserver keeps the bottom in view. */
  insert(item) {
    let index = this.items.length;
    while (index > 0 && this.items[index - 1].key > item.key) index -= 1;
    this.items.splice(index, 0, item);
    this.place(item);
  }

  place(item) {
    if (!item.el) return;
    const index = this.items.indexOf(item);
    const next = this.items.slice(index + 1).find((other) => other.el?.isConnected);
    this.list.insertBefore(item.el, next ? next.el : null);
  }

  rerender() {
    for (const item of this.items) {
      if (item.kind !== 'message') continue;
      const fresh = this.visible(item.data) ? renderMessage(item.data, this.ctx) : null;
      if (item.el && fresh) item.el.replaceWith(fresh);
      else if (item.el) item.el.remove();
      item.el = fresh;
      if (fresh && !fresh.isConnected) this.place(item);
    }
  }

  // -- scrolling -----------------------------------------------------------------------------

  onScroll() {
    const { scrollHeight, scrollTop, clientHeight } = this.scroller;
    this.pinned = scrollHeight - scrollTop - clientHeight < PIN_SLACK;
    // The observer only reports changes between two frames; a jump back up within one
    // frame (a fling, a restore then a scroll) is seen here.
    if (scrollTop < NEAR_TOP) this.loadOlder();
  }

  toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** What you send scrolls the channel to its end and keeps it there, as in Discord. */
  stick() {
    this.pinned = true;
    this.toBottom();
  }

  // -- what people click -----------------------------------------------------------------------

  onClick(event) {
    const spoiler = event.target.closest('.spoiler');
    if (spoiler) spoiler.classList.toggle('shown');
    const target = event.target.closest('[data-action]');
    const li = event.target.closest('li.msg');
    if (!target || !li) return;
    const item = this.byId.get(li.dataset.id);
    const action = target.dataset.action;
    if (action === 'open-image') {
      event.preventDefault();
      this.actions.openImage(target.dataset.full);
    } else if (!item) {
      // a pending line: nothing to do
    } else if (action === 'button') {
      this.actions.press(item.data, target.dataset.customId, target);
    } else if (action === 'select-open') {
      this.toggleSelect(item.data, target.closest('.select-menu'));
    } else if (action === 'react') {
      const mine = target.classList.contains('mine');
      this.actions.react(item.data, target.dataset.emoji, !mine);
    } else if (action === 'add-reaction') {
      this.actions.pickEmoji(item.data, target);
    } else if (action === 'dismiss') {
      this.dismissed.add(item.id);
      item.el.remove();
      item.el = null;
    }
  }

  toggleSelect(message, box) {
    const open = box.querySelector('.options');
    if (open) {
      open.remove();
      return;
    }
    const component = box._component;
    const many = (component.max_values || 1) > 1;
    const chosen = new Set(box._options.filter((o) => o.chosen).map((o) => o.value));
    const list = el('div', 'options');
    list.setAttribute('role', 'listbox');
    const send = () => {
      list.remove();
      this.actions.select(message, component.custom_id, [...chosen]);
    };
    for (const option of box._options) {
      const row = el('button', `option${chosen.has(option.value) ? ' chosen' : ''}`);
      row.type = 'button';
      row.dataset.value = option.value;
      row.innerHTML = `<span>${option.emoji ? `${option.emoji.name} ` : ''}${escape(option.label)}` +
        `${option.description ? `<span class="description">${escape(option.description)}</span>` : ''}</span>` +
        (many ? `<span class="check">${chosen.has(option.value) ? '☑' : '☐'}</span>` : '');
      row.addEventListener('click', (event) => {
        event.stopPropagation();
        if (!many) {
          chosen.clear();
          chosen.add(option.value);
          send();
          return;
        }
        if (chosen.has(option.value)) chosen.delete(option.value);
        else chosen.add(option.value);
        row.classList.toggle('chosen');
        row.querySelector('.check').textContent = chosen.has(option.value) ? '☑' : '☐';
      });
      list.append(row);
    }
    if (many) {
      const done = el('button', 'option', '<strong>Done</strong>');
      done.type = 'button';
      done.dataset.value = '';
      done.addEventListener('click', (event) => { event.stopPropagation(); send(); });
      list.append(done);
    }
    box.append(list);
  }
}

function escape(text) {
  const div = document.createElement('div');
  div.textContent = text ?? '';
  return div.innerHTML;
}
