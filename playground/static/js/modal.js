// A bot's form (interaction response type 9) as a dialog: text inputs with their labels,
// placeholders, lengths and required marks, labelled selects; checked before it is sent.
'use strict';

import { escapeHtml, markdown } from './markdown.js';

const SHORT = 1;

/** Open `modal` for the interaction that asked for it; `submit(values)` sends it. */
export function openModal(dialog, modal, ctx, submit) {
  const fields = [];
  dialog.innerHTML = '';
  const form = document.createElement('form');
  form.method = 'dialog';
  form.noValidate = true;
  form.innerHTML = `<header>${escapeHtml(modal.title)}</header><div class="modal-body"></div><div class="modal-error" role="alert"></div>` +
    '<footer><button type="button" class="cancel">Cancel</button><button type="submit" class="submit">Submit</button></footer>';
  const body = form.querySelector('.modal-body');
  for (const item of modal.components || []) {
    if (item.type === 1) for (const child of item.components || []) body.append(field(child, child.label, null, fields));
    else if (item.type === 18) body.append(field(item.component, item.label, item.description, fields));
    else if (item.type === 10) body.append(Object.assign(document.createElement('div'), { className: 'md', innerHTML: markdown(item.content, ctx) }));
  }
  dialog.append(form);
  dialog.dataset.customId = modal.custom_id;
  const error = form.querySelector('.modal-error');
  form.querySelector('.cancel').addEventListener('click', () => dialog.close());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problems = fields.map((f) => f.check()).filter(Boolean);
    if (problems.length) return;
    const button = form.querySelector('.submit');
    button.disabled = true;
    error.textContent = '';
    try {
      await submit(Object.fromEntries(fields.map((f) => [f.customId, f.value()])));
      dialog.close();
    } catch (failure) {
      error.textContent = failure.message;
      button.disabled = false;
    }
  });
  dialog.showModal();
  dialog.querySelector('input, textarea, select')?.focus();
}

function field(component, label, description, fields) {
  const box = document.createElement('div');
  box.className = 'field';
  const id = `modal-${component.custom_id}`;
  const required = component.required ?? true;
  box.innerHTML = `<label for="${escapeHtml(id)}">${escapeHtml(label || component.label || '')}${required ? '<span class="required">*</span>' : ''}</label>` +
    (description ? `<span class="description">${escapeHtml(description)}</span>` : '');
  const problem = document.createElement('span');
  problem.className = 'field-error';
  if (component.type === 4) {
    const input = document.createElement(component.style === SHORT ? 'input' : 'textarea');
    Object.assign(input, { id, name: component.custom_id, value: component.value || '', placeholder: component.placeholder || '' });
    if (component.max_length) input.maxLength = component.max_length;
    if (component.min_length) input.minLength = component.min_length;
    input.required = required;
    box.append(input);
    const counter = document.createElement('span');
    counter.className = 'counter';
    const count = () => { counter.textContent = component.max_length ? `${input.value.length}/${component.max_length}` : ''; };
    input.addEventListener('input', () => { count(); problem.textContent = ''; });
    count();
    box.append(counter, problem);
    fields.push({
      customId: component.custom_id,
      value: () => input.value,
      check: () => {
        const text = input.value;
        let message = '';
        if (required && !text) message = 'This field is required';
        else if (text && component.min_length && text.length < component.min_length) message = `Must be at least ${component.min_length} characters long`;
        else if (component.max_length && text.length > component.max_length) message = `Must be at most ${component.max_length} characters long`;
        problem.textContent = message;
        return message;
      },
    });
  } else if (component.type === 3) {
    const select = document.createElement('select');
    Object.assign(select, { id, name: component.custom_id, multiple: (component.max_values || 1) > 1 });
    if (!select.multiple) select.append(new Option(component.placeholder || 'Make a selection', '', true, false));
    for (const option of component.options || []) select.append(new Option(option.label, option.value, false, Boolean(option.default)));
    box.append(select, problem);
    fields.push({
      customId: component.custom_id,
      value: () => [...select.selectedOptions].map((o) => o.value).filter(Boolean),
      check: () => {
        const count = [...select.selectedOptions].filter((o) => o.value).length;
        const low = required ? (component.min_values ?? 1) : 0;
        const message = count < low ? `Pick at least ${low}` : '';
        problem.textContent = message;
        return message;
      },
    });
  } else {
    box.append(Object.assign(document.createElement('em'), { textContent: `(component type ${component.type})` }));
  }
  return box;
}
