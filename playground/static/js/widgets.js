// Small pieces of the page: the full-size image viewer, the reaction picker, toasts.
'use strict';

const QUICK_EMOJI = ['❌', '✉️', '👍', '❤️', '😂', '🎉', '🔥', '👀', '✅', '🙏', '😮', '😢'];
const TOAST_MS = 6000;

export function toast(text) {
  const box = document.getElementById('toasts');
  const node = document.createElement('div');
  node.className = 'toast';
  node.textContent = text;
  box.append(node);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => node.remove(), TOAST_MS);
}

/** Click an image: it opens at full size; click or Escape closes it. */
export class Lightbox {
  constructor(box, image, link) {
    Object.assign(this, { box, image, link });
    box.addEventListener('click', (event) => { if (event.target !== link) this.hide(); });
    document.addEventListener('keydown', (event) => { if (event.key === 'Escape') this.hide(); });
  }

  show(url) {
    this.image.src = url;
    this.link.href = url;
    this.box.hidden = false;
  }

  hide() {
    this.box.hidden = true;
    this.image.removeAttribute('src');
  }
}

/** The reaction picker: the usual few (❌ and ✉️ first), or any emoji typed in. */
export class EmojiPicker {
  constructor(box, choose) {
    this.box = box;
    this.message = null;
    box.innerHTML = `<div class="emojis">${QUICK_EMOJI.map((e) => `<button type="button" class="emoji" data-emoji="${e}" title="${e}">${e}</button>`).join('')}</div>` +
      '<form><input name="emoji" placeholder="any emoji" maxlength="16" aria-label="Any emoji"><button type="submit">Add</button></form>';
    box.addEventListener('click', (event) => {
      const button = event.target.closest('button.emoji');
      if (!button) return;
      choose(this.message, button.dataset.emoji);
      this.hide();
    });
    box.querySelector('form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = box.querySelector('input');
      const emoji = input.value.trim();
      if (!emoji) return;
      choose(this.message, emoji);
      input.value = '';
      this.hide();
    });
    document.addEventListener('mousedown', (event) => {
      if (!box.hidden && !box.contains(event.target) && !event.target.closest('.add-reaction')) this.hide();
    });
  }

  show(message, anchor) {
    this.message = message;
    const rect = anchor.getBoundingClientRect();
    this.box.hidden = false;
    const height = this.box.offsetHeight;
    this.box.style.left = `${Math.max(8, Math.min(rect.left, innerWidth - 250))}px`;
    this.box.style.top = `${Math.max(8, rect.top - height - 8)}px`;
  }

  hide() {
    this.box.hidden = true;
  }
}
