// The message box: plain messages with files, and slash commands the way Discord's box offers
// them: `/` lists the bot's commands, then each option with its type, whether it is required,
// its choices or the bot's autocomplete, and a file picker for attachment options.
'use strict';

import { escapeHtml } from './markdown.js';
import { ATTACHMENT, TYPE_NAMES, collect, flatten, parseLine, segments } from './commandline.js';

const AUTOCOMPLETE_DELAY = 250;

export class Composer {
  constructor({ form, input, popup, bar, files, error, fileInput, attach, ctx, actions }) {
    Object.assign(this, { form, input, popup, bar, filesBox: files, errorBox: error, fileInput, ctx, actions });
    this.entries = [];
    this.optionFiles = new Map(); // option name -> File, for the command being typed
    this.messageFiles = [];
    this.items = [];
    this.selected = 0;
    this.quiet = false; // a choice was just taken: no popup until the next keystroke
    this.pickFor = null; // the attachment option the file picker is open for
    this.autocompleteTimer = null;
    this.autocompleteSeq = 0;
    input.addEventListener('input', () => { this.quiet = false; this.refresh(); });
    input.addEventListener('click', () => this.refresh());
    input.addEventListener('keyup', (event) => { if (event.key.startsWith('Arrow') && this.popup.hidden) this.refresh(); });
    input.addEventListener('keydown', (event) => this.onKey(event));
    input.addEventListener('blur', () => setTimeout(() => { if (!this.form.contains(document.activeElement)) this.hidePopup(); }, 150));
    attach.addEventListener('click', () => { this.pickFor = null; this.fileInput.multiple = true; this.fileInput.click(); });
    fileInput.addEventListener('change', () => this.onFiles());
    form.addEventListener('submit', (event) => { event.preventDefault(); this.send(); });
  }

  setChannel(title, commands) {
    this.entries = flatten(commands);
    this.input.placeholder = `Message ${title} — type / for commands`;
    this.input.value = '';
    this.optionFiles.clear();
    this.messageFiles = [];
    this.refresh();
  }

  setCommands(commands) {
    this.entries = flatten(commands);
    this.refresh();
  }

  // -- what is typed -------------------------------------------------------------------------

  refresh() {
    this.resize();
    this.showError('');
    const text = this.input.value;
    const parsed = parseLine(text, this.entries);
    if (!parsed.entry) {
      this.optionFiles.clear();
      this.bar.hidden = true;
      this.renderFiles();
      if (parsed.query !== null && !this.quiet) this.showCommands(parsed.query);
      else this.hidePopup();
      return;
    }
    const caret = this.input.selectionStart ?? text.length;
    const { leading, found } = segments(text, parsed.restStart, parsed.entry);
    const focused = found.find((s) => caret >= s.valueStart && caret <= s.valueEnd) || null;
    this.renderBar(parsed.entry, found, focused);
    this.renderFiles();
    if (this.quiet) return this.hidePopup();
    if (focused) return this.showValues(parsed, focused, found);
    if (!leading && !found.length) return this.showOptions(parsed.entry);
    this.hidePopup();
  }

  resize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  renderBar(entry, found, focused) {
    const given = new Set(found.filter((s) => s.value).map((s) => s.name));
    const chips = entry.options.map((o) => {
      const file = o.type === ATTACHMENT ? this.optionFiles.get(o.name) : null;
      const classes = ['option-chip'];
      if (given.has(o.name) || file) classes.push('filled');
      if (focused?.name === o.name) classes.push('focused');
      const shown = file ? ` ${escapeHtml(file.name)}` : '';
      return `<button type="button" class="${classes.join(' ')}" data-option="${escapeHtml(o.name)}" title="${escapeHtml(o.description || '')}">` +
        `${escapeHtml(o.name)}${o.required ? '<span class="required" title="required">*</span>' : ''}` +
        `<span class="type">${TYPE_NAMES[o.type] || o.type}${o.autocomplete ? ', suggestions' : ''}${o.choices ? ', choices' : ''}${o.required ? '' : ', optional'}</span>${shown}</button>`;
    }).join('');
    const help = focused?.option?.description || entry.description || '';
    this.bar.innerHTML = `<span class="command-name">/${escapeHtml(entry.path)}</span>${chips}<span class="option-help">${escapeHtml(help)}</span>`;
    this.bar.hidden = false;
    for (const chip of this.bar.querySelectorAll('.option-chip')) {
      chip.addEventListener('mousedown', (event) => event.preventDefault());
      chip.addEventListener('click', () => this.chooseOption(entry.options.find((o) => o.name === chip.dataset.option)));
    }
  }

  renderFiles() {
    const files = [...this.messageFiles.map((f, i) => [`file${i}`, f, null]),
      ...[...this.optionFiles].map(([name, f]) => [name, f, name])];
    this.filesBox.replaceChildren(...files.map(([key, file, option]) => {
      const chip = document.createElement('span');
      chip.className = 'file-chip';
      chip.innerHTML = `📎 ${option ? `${escapeHtml(option)}: ` : ''}${escapeHtml(file.name)} <button type="button" title="Remove">✕</button>`;
      chip.querySelector('button').addEventListener('click', () => {
        if (option) this.optionFiles.delete(option);
        else this.messageFiles.splice(Number(key.slice(4)), 1);
        this.refresh();
      });
      return chip;
    }));
  }

  // -- the popup ------------------------------------------------------------------------------

  showCommands(query) {
    const matches = this.entries.filter((e) => e.path.startsWith(query) || (query && e.path.includes(query)))
      .sort((a, b) => Number(b.path === query) - Number(a.path === query));
    this.showPopup('commands', 'Commands', matches.map((e) => ({
      name: `/${e.path}`, description: e.description, app: this.ctx.botName(), pick: () => this.chooseCommand(e),
    })), 'No commands match');
  }

  showOptions(entry) {
    const ordered = [...entry.options].sort((a, b) => Number(Boolean(b.required)) - Number(Boolean(a.required)));
    // Enter fills a missing required option first; with none missing it sends.
    const missing = ordered.filter((o) => o.required && !(o.type === ATTACHMENT && this.optionFiles.has(o.name)));
    this.showPopup('options', 'Options', ordered.map((o) => ({
      name: o.name, description: `${o.required ? 'required' : 'optional'} · ${TYPE_NAMES[o.type] || o.type} — ${o.description || ''}`,
      pick: () => this.chooseOption(o),
    })), 'This command has no options: press Enter to send');
    this.enterPicks = missing.length > 0;
  }

  showValues(parsed, segment, found) {
    const option = segment.option;
    const typed = segment.value.toLowerCase();
    const take = (value) => () => this.replaceValue(segment, String(value));
    if (option.autocomplete) return this.autocomplete(parsed, segment, found);
    let items = null;
    if (option.choices?.length) {
      items = option.choices.filter((c) => c.name.toLowerCase().includes(typed) || String(c.value).toLowerCase().includes(typed))
        .map((c) => ({ name: c.name, description: String(c.value) !== c.name ? String(c.value) : '', pick: take(c.value), value: c.value }));
    } else if (option.type === 5) {
      items = ['True', 'False'].filter((v) => v.toLowerCase().startsWith(typed)).map((v) => ({ name: v, pick: take(v), value: v }));
    } else if (option.type === 6 || option.type === 9) {
      items = this.ctx.people().filter((u) => u.username.toLowerCase().startsWith(typed.replace(/^@/, '')))
        .map((u) => ({ name: `@${u.username}`, pick: take(`@${u.username}`), value: u.id }));
    } else if (option.type === 7) {
      items = this.ctx.channels().filter((c) => c.name.startsWith(typed.replace(/^#/, '')))
        .map((c) => ({ name: `#${c.name}`, pick: take(`#${c.name}`), value: c.id }));
    } else if (option.type === 8) {
      items = [{ name: '@everyone', pick: take('@everyone'), value: 'everyone' }];
    }
    if (items === null) return this.hidePopup();
    this.showPopup('values', option.name, items, 'Nothing matches');
  }

  autocomplete(parsed, segment, found) {
    clearTimeout(this.autocompleteTimer);
    const seq = ++this.autocompleteSeq;
    const options = {};
    for (const s of found) if (s.value || s === segment) options[s.name] = s.value;
    this.autocompleteTimer = setTimeout(async () => {
      let result;
      try {
        result = await this.actions.autocomplete({
          name: parsed.entry.name, subcommand: parsed.entry.subcommand, options, focused: segment.name,
        });
      } catch (error) {
        if (seq === this.autocompleteSeq) this.showError(error.message);
        return;
      }
      if (seq !== this.autocompleteSeq) return; // typed on meanwhile
      const empty = result.answered ? 'No suggestions' : `${this.ctx.botName()} did not answer in time`;
      this.showPopup('values', segment.name, (result.choices || []).map((c) => ({
        name: c.name, description: String(c.value) !== c.name ? String(c.value) : '',
        value: c.value, pick: () => this.replaceValue(segment, String(c.value)),
      })), empty);
    }, AUTOCOMPLETE_DELAY);
  }

  /** Commands and values take Enter; the options list only while a required one is missing. */
  showPopup(kind, title, items, empty) {
    this.kind = kind;
    this.enterPicks = kind !== 'options';
    this.items = items;
    this.selected = 0;
    this.popup.innerHTML = `<div class="popup-title">${escapeHtml(title)}</div>` + (items.length
      ? items.map((item, i) => `<button type="button" class="item${i === 0 ? ' selected' : ''}" role="option" data-index="${i}" data-value="${escapeHtml(String(item.value ?? item.name))}">` +
        `<span class="name">${escapeHtml(item.name)}</span><span class="description">${escapeHtml(item.description || '')}</span>` +
        `${item.app ? `<span class="app">${escapeHtml(item.app)}</span>` : ''}</button>`).join('')
      : `<div class="empty">${escapeHtml(empty)}</div>`);
    for (const button of this.popup.querySelectorAll('.item')) {
      button.addEventListener('mousedown', (event) => event.preventDefault()); // keep the caret
      button.addEventListener('click', () => this.pick(Number(button.dataset.index)));
    }
    this.popup.hidden = false;
  }

  hidePopup() {
    clearTimeout(this.autocompleteTimer);
    this.autocompleteSeq += 1;
    this.items = [];
    this.popup.hidden = true;
  }

  pick(index) {
    const item = this.items[index];
    if (item) item.pick();
  }

  select(step) {
    if (!this.items.length) return;
    this.enterPicks = true;
    this.selected = (this.selected + step + this.items.length) % this.items.length;
    this.popup.querySelectorAll('.item').forEach((node, i) => node.classList.toggle('selected', i === this.selected));
    this.popup.querySelector('.item.selected')?.scrollIntoView({ block: 'nearest' });
  }

  onKey(event) {
    const open = !this.popup.hidden && this.items.length;
    if (open && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      event.preventDefault();
      this.select(event.key === 'ArrowDown' ? 1 : -1);
    } else if (open && (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey && this.enterPicks))) {
      event.preventDefault();
      this.pick(this.selected);
    } else if (event.key === 'Escape') {
      this.hidePopup();
      this.quiet = true;
    } else if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      this.send();
    }
  }

  // -- choosing -------------------------------------------------------------------------------

  setText(text, caret = text.length) {
    this.input.value = text;
    this.input.focus();
    this.input.setSelectionRange(caret, caret);
    this.refresh();
  }

  chooseCommand(entry) {
    this.optionFiles.clear();
    const first = entry.options.find((o) => o.required && o.type !== ATTACHMENT);
    this.setText(`/${entry.path} ${first ? `${first.name}: ` : ''}`);
    const file = !first && entry.options.find((o) => o.required && o.type === ATTACHMENT);
    if (file) this.chooseOption(file);
  }

  chooseOption(option) {
    if (!option) return;
    if (option.type === ATTACHMENT) {
      this.pickFor = option.name;
      this.fileInput.multiple = false;
      this.fileInput.click();
      return;
    }
    const text = this.input.value;
    const parsed = parseLine(text, this.entries);
    const existing = parsed.entry && segments(text, parsed.restStart, parsed.entry).found.find((s) => s.name === option.name);
    if (existing) return this.setText(text, existing.valueEnd);
    const base = text.replace(/\s+$/, '');
    this.setText(`${base} ${option.name}: `);
  }

  replaceValue(segment, value) {
    const text = this.input.value;
    const before = text.slice(0, segment.valueStart);
    const after = text.slice(segment.valueEnd);
    const inserted = ` ${value}${after ? '' : ' '}`;
    this.quiet = true;
    this.setText(`${before}${inserted}${after ? ` ${after.trimStart()}` : ''}`, before.length + inserted.length);
  }

  onFiles() {
    const chosen = [...this.fileInput.files];
    this.fileInput.value = '';
    if (!chosen.length) return;
    if (this.pickFor) this.optionFiles.set(this.pickFor, chosen[0]);
    else this.messageFiles.push(...chosen);
    this.pickFor = null;
    this.input.focus();
    this.refresh();
  }

  // -- sending --------------------------------------------------------------------------------

  showError(text) {
    this.errorBox.textContent = text;
  }

  checkSize(files) {
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const limit = this.ctx.uploadLimit();
    if (total > limit) {
      throw new Error(`Your files are too powerful: the limit here is ${(limit / 1048576).toFixed(0)} MB (these are ${(total / 1048576).toFixed(2)} MB)`);
    }
  }

  async send() {
    const text = this.input.value;
    const parsed = parseLine(text, this.entries, { sending: true });
    try {
      if (text.startsWith('/') && !parsed.entry) {
        throw new Error(`There is no command /${text.slice(1).split(/\s/)[0]} here: pick one from the list`);
      }
      if (parsed.entry) {
        const options = collect(text, parsed, this.optionFiles, this.ctx);
        const files = [...this.optionFiles].filter(([name]) => parsed.entry.options.some((o) => o.name === name));
        this.checkSize(files.map(([, f]) => f));
        await this.actions.runCommand({ entry: parsed.entry, options, files });
        this.optionFiles.clear();
      } else {
        if (!text.trim() && !this.messageFiles.length) return;
        this.checkSize(this.messageFiles);
        await this.actions.sendMessage(text, this.messageFiles.map((f, i) => [`file${i}`, f]));
        this.messageFiles = [];
      }
    } catch (error) {
      this.showError(error.message);
      return;
    }
    this.input.value = '';
    this.quiet = false;
    this.refresh();
  }
}
