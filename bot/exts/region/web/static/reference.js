// Vary (Reference): the editor's reference panel — the image to imitate in the selected region,
// given as an upload, a link, or one of the user's own images — and the "keep shape" switch.
//
// editor.js owns the page; this file only fills the panel and tells it what to send.
'use strict';

(() => {
  const MAX_BYTES = 16 * 1024 * 1024;
  const TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

  const els = {
    panel: document.getElementById('reference-panel'),
    file: document.getElementById('reference-file'),
    fileLabel: document.querySelector('label[for="reference-file"]'),
    url: document.getElementById('reference-url'),
    gallery: document.getElementById('reference-gallery'),
    galleryNote: document.getElementById('reference-gallery-note'),
    preview: document.getElementById('reference-preview'),
    previewImage: document.getElementById('reference-image'),
    caption: document.getElementById('reference-caption'),
    keepShape: document.getElementById('keep-shape'),
  };

  const state = {
    choice: null, // {kind: 'upload', file} | {kind: 'link', url} | {kind: 'pick', id, label, src}
    objectUrl: null,
    onChange: () => {},
    setStatus: () => {},
    disabled: false,
  };

  function release() {
    if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    state.objectUrl = null;
  }

  function choose(choice) {
    release();
    state.choice = choice;
    for (const tile of els.gallery.querySelectorAll('[role="option"]')) {
      tile.setAttribute('aria-selected', String(choice !== null && choice.kind === 'pick' && tile.dataset.id === choice.id));
    }
    if (choice === null) {
      els.preview.hidden = true;
      els.previewImage.removeAttribute('src');
    } else {
      let src = '';
      let caption = '';
      if (choice.kind === 'upload') {
        state.objectUrl = URL.createObjectURL(choice.file);
        src = state.objectUrl;
        caption = `Your upload “${choice.file.name}”`;
      } else if (choice.kind === 'link') {
        src = '';
        caption = `The image at ${choice.url} (fetched when the job starts)`;
      } else {
        src = choice.src;
        caption = choice.label;
      }
      els.preview.hidden = false;
      if (src) els.previewImage.src = src;
      else els.previewImage.removeAttribute('src');
      els.previewImage.hidden = !src;
      els.caption.textContent = caption;
    }
    state.onChange();
  }

  function onFile() {
    const file = els.file.files && els.file.files[0];
    els.file.value = '';
    if (!file || state.disabled) return;
    if (file.type && !TYPES.includes(file.type)) {
      state.setStatus(`“${file.name}” is not a PNG, JPEG, WebP or GIF image.`, 'error');
      return;
    }
    if (file.size > MAX_BYTES) {
      state.setStatus(`“${file.name}” is larger than 16 MiB.`, 'error');
      return;
    }
    els.url.value = '';
    state.setStatus('');
    choose({ kind: 'upload', file });
  }

  /** Takes the link field as the choice while it holds a web link; ``loud``: say why not. */
  function onLink(loud) {
    if (state.disabled) return;
    const url = els.url.value.trim();
    const linked = state.choice && state.choice.kind === 'link';
    if (/^https?:\/\/\S+$/i.test(url)) {
      if (!linked || state.choice.url !== url) choose({ kind: 'link', url });
      if (loud) state.setStatus('');
      return;
    }
    if (linked) choose(null);
    if (loud && url) state.setStatus('The reference link must be a web link (https://…).', 'error');
  }

  function addTile(image) {
    const tile = document.createElement('button');
    tile.type = 'button';
    tile.className = 'tile';
    tile.setAttribute('role', 'option');
    tile.setAttribute('aria-selected', 'false');
    tile.dataset.id = image.id;
    tile.title = image.label;
    const img = document.createElement('img');
    img.src = image.url;
    img.alt = image.label;
    img.loading = 'lazy';
    tile.append(img);
    tile.addEventListener('click', () => {
      if (state.disabled) return;
      els.url.value = '';
      choose({ kind: 'pick', id: image.id, label: image.label, src: image.url });
    });
    els.gallery.append(tile);
  }

  async function loadGallery(url, preset) {
    els.galleryNote.textContent = 'Loading your images…';
    try {
      const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
      const body = await response.json();
      if (!response.ok) throw new Error(body && body.error ? body.error : `HTTP ${response.status}`);
      const images = Array.isArray(body.images) ? body.images : [];
      for (const image of images) {
        if (image && typeof image.id === 'string' && typeof image.url === 'string') addTile(image);
      }
      els.galleryNote.textContent = images.length ? '' : 'No other images of yours yet.';
      const offered = images.find((image) => image && image.id === preset);
      if (offered && state.choice === null) {
        choose({ kind: 'pick', id: offered.id, label: offered.label, src: offered.url });
      }
    } catch (error) {
      els.galleryNote.textContent = `Your images could not be listed (${error.message}).`;
    }
  }

  window.mjReference = Object.freeze({
    /** Shows the panel; ``hooks``: onChange() when the choice changes, setStatus(text, kind). */
    start(config, hooks) {
      state.onChange = hooks.onChange;
      state.setStatus = hooks.setStatus;
      els.panel.hidden = false;
      els.file.addEventListener('change', onFile);
      els.url.addEventListener('change', () => onLink(true));
      els.url.addEventListener('input', () => onLink(false));
      els.fileLabel.addEventListener('click', (e) => {
        if (state.disabled) e.preventDefault();
      });
      els.keepShape.checked = config.keepShape === true;
      if (typeof config.galleryUrl === 'string') loadGallery(config.galleryUrl, config.presetPick);
    },
    /** A reference is chosen. */
    ready() {
      return state.choice !== null;
    },
    setDisabled(disabled) {
      state.disabled = disabled;
      els.file.disabled = disabled;
      els.url.disabled = disabled;
      els.keepShape.disabled = disabled;
      els.fileLabel.classList.toggle('disabled', disabled);
      for (const tile of els.gallery.querySelectorAll('button')) tile.disabled = disabled;
    },
    /** Adds the reference fields to the submission. */
    append(form) {
      const choice = state.choice;
      if (choice.kind === 'upload') form.append('reference', choice.file, choice.file.name);
      else if (choice.kind === 'link') form.append('reference_url', choice.url);
      else form.append('reference_pick', choice.id);
      form.append('keep_shape', els.keepShape.checked ? 'true' : 'false');
    },
  });
})();
