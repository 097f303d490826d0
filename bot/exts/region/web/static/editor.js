// Vary (Region) editor: select parts of an image, build a full-resolution mask, submit it.
//
// Selections live in image pixel coordinates, so the mask is built at the image's own size
// whatever the screen size or device pixel ratio; the visible canvas is only a view of them.
'use strict';

(() => {
  const MIN_RECT_PX = 3; // smaller drags (CSS px, either side) are taps or slips, not selections
  const MIN_LASSO_AREA_PX = 16; // CSS px²: a lasso enclosing less is a scribble
  const MIN_LASSO_THICKNESS_PX = 1; // area / perimeter in CSS px: below it, a thin sliver
  const LASSO_STEP_PX = 2; // CSS px between stored lasso points; keeps polygons small
  const SUBMIT_TIMEOUT_MS = 60000;
  const DEFAULT_SUCCESS = 'Submitted — see Discord';
  const ALREADY_SUBMITTED = 'This edit was already submitted — see Discord.';
  const DIM = 'rgba(0, 0, 0, 0.55)';
  const TINT = 'rgba(88, 101, 242, 0.22)';
  const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

  const els = {
    title: byId('title'),
    stage: byId('stage'),
    canvas: byId('editor'),
    rect: byId('tool-rect'),
    lasso: byId('tool-lasso'),
    undo: byId('undo'),
    clear: byId('clear'),
    maskFile: byId('mask-file'),
    uploadLabel: document.querySelector('label[for="mask-file"]'),
    maskHint: byId('mask-hint'),
    prompt: byId('prompt'),
    promptLabel: byId('prompt-label'),
    promptHint: byId('prompt-hint'),
    help: byId('help'),
    submit: byId('submit'),
    status: byId('status'),
  };

  /** A mistake the user can fix; its message is shown as is. */
  class UserError extends Error {}

  const state = {
    config: null,
    image: null, // the loaded HTMLImageElement; null until it has loaded
    tool: 'rect',
    selections: [], // {type: 'rect', x, y, width, height} | {type: 'lasso', points: [{x, y}]}
    upload: null, // {file, overlay}: an uploaded mask replaces the drawn selections while set
    draft: null, // the selection being drawn
    cssScale: 1, // CSS px per image px
    busy: false, // a submit is in flight
    locked: false, // submitted, already used, or unusable: nothing can change any more
    frame: 0,
  };

  // Off-screen canvases for the overlay, kept at the visible canvas' backing size.
  const selectionLayer = document.createElement('canvas');
  const litLayer = document.createElement('canvas');

  function byId(id) {
    return document.getElementById(id);
  }

  // -- configuration -----------------------------------------------------------------------

  function readConfig() {
    let config;
    try {
      config = JSON.parse(byId('config').textContent);
    } catch {
      throw new UserError('This page is missing its configuration. Open the editor again from Discord.');
    }
    const sizeOk = (v) => Number.isInteger(v) && v > 0 && v <= 16384;
    if (!config || typeof config !== 'object' || typeof config.imageUrl !== 'string'
        || typeof config.submitUrl !== 'string' || !sizeOk(config.width) || !sizeOk(config.height)) {
      throw new UserError('This page has an invalid configuration. Open the editor again from Discord.');
    }
    return {
      imageUrl: config.imageUrl,
      submitUrl: config.submitUrl,
      prompt: typeof config.prompt === 'string' ? config.prompt : '',
      promptEditable: config.promptEditable === true,
      width: config.width,
      height: config.height,
      title: typeof config.title === 'string' && config.title ? config.title : 'Vary (Region)',
      reference: config.reference === true,
      background: config.background === true,
      galleryUrl: typeof config.galleryUrl === 'string' ? config.galleryUrl : null,
      presetPick: typeof config.presetPick === 'string' ? config.presetPick : null,
      keepShape: config.keepShape === true,
    };
  }

  // -- geometry ----------------------------------------------------------------------------

  /** The pointer's position in image pixels, clamped to the image. */
  function toImage(event) {
    const { width, height } = state.config;
    const box = els.canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * width;
    const y = ((event.clientY - box.top) / box.height) * height;
    return { x: clamp(x, 0, width), y: clamp(y, 0, height) };
  }

  function clamp(v, lo, hi) {
    return Math.min(hi, Math.max(lo, v));
  }

  function rectFrom(a, b) {
    return {
      type: 'rect',
      x: Math.min(a.x, b.x),
      y: Math.min(a.y, b.y),
      width: Math.abs(a.x - b.x),
      height: Math.abs(a.y - b.y),
    };
  }

  function polygonPerimeter(points) {
    let length = 0;
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const q = points[(i + 1) % points.length];
      length += Math.hypot(q.x - p.x, q.y - p.y);
    }
    return length;
  }

  function polygonArea(points) {
    let twice = 0;
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const q = points[(i + 1) % points.length];
      twice += p.x * q.y - q.x * p.y;
    }
    return Math.abs(twice) / 2;
  }

  /** Adds a selection's outline to ctx's current path, in image coordinates. */
  function tracePath(ctx, shape) {
    if (shape.type === 'rect') {
      ctx.rect(shape.x, shape.y, shape.width, shape.height);
      return;
    }
    shape.points.forEach((p, i) => (i === 0 ? ctx.moveTo(p.x, p.y) : ctx.lineTo(p.x, p.y)));
    ctx.closePath();
  }

  // -- view --------------------------------------------------------------------------------

  /** Sizes the canvas to the largest size that fits the stage, keeping the aspect ratio. */
  function fit() {
    if (!state.config) return;
    const { width, height } = state.config;
    const stageWidth = els.stage.clientWidth;
    const stageHeight = els.stage.clientHeight;
    if (stageWidth <= 0 || stageHeight <= 0) return;
    const scale = Math.min(stageWidth / width, stageHeight / height);
    const cssWidth = Math.max(1, Math.floor(width * scale));
    const cssHeight = Math.max(1, Math.floor(height * scale));
    const dpr = window.devicePixelRatio || 1;
    const canvas = els.canvas;
    // Whole-pixel placement keeps the canvas from being resampled (and blurred) by the page.
    canvas.style.width = `${cssWidth}px`;
    canvas.style.height = `${cssHeight}px`;
    canvas.style.left = `${Math.floor((stageWidth - cssWidth) / 2)}px`;
    canvas.style.top = `${Math.floor((stageHeight - cssHeight) / 2)}px`;
    const backingWidth = Math.max(1, Math.round(cssWidth * dpr));
    const backingHeight = Math.max(1, Math.round(cssHeight * dpr));
    for (const c of [canvas, selectionLayer, litLayer]) {
      if (c.width !== backingWidth) c.width = backingWidth;
      if (c.height !== backingHeight) c.height = backingHeight;
    }
    state.cssScale = cssWidth / width;
    render();
  }

  function scheduleRender() {
    if (!state.frame) {
      state.frame = requestAnimationFrame(() => {
        state.frame = 0;
        render();
      });
    }
  }

  /** The shapes on screen: the committed selections and the one being drawn, if any. */
  function visibleShapes() {
    if (state.upload) return [];
    const shapes = state.selections.slice();
    const draft = state.draft;
    if (draft && draft.type === 'rect') shapes.push(rectFrom(draft.start, draft.end));
    if (draft && draft.type === 'lasso' && draft.points.length > 1) {
      shapes.push({ type: 'lasso', points: draft.points });
    }
    return shapes;
  }

  function render() {
    const canvas = els.canvas;
    const ctx = canvas.getContext('2d');
    const w = canvas.width;
    const h = canvas.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!state.image) return;
    ctx.drawImage(state.image, 0, 0, w, h);
    const shapes = visibleShapes();
    if (!shapes.length && !state.upload) return;

    const { width, height } = state.config;
    const sx = w / width;
    const sy = h / height;
    const dpr = window.devicePixelRatio || 1;

    // 1. The union of the selections as an alpha layer at screen resolution.
    const sel = selectionLayer.getContext('2d');
    sel.setTransform(1, 0, 0, 1, 0, 0);
    sel.clearRect(0, 0, w, h);
    sel.setTransform(sx, 0, 0, sy, 0, 0);
    sel.fillStyle = '#fff';
    for (const shape of shapes) {
      sel.beginPath();
      tracePath(sel, shape);
      sel.fill('nonzero');
    }
    if (state.upload) sel.drawImage(state.upload.overlay, 0, 0, width, height);

    // 2. Dim the whole image, then lay the selected parts back on top, lightly tinted.
    ctx.fillStyle = DIM;
    ctx.fillRect(0, 0, w, h);
    const lit = litLayer.getContext('2d');
    lit.globalCompositeOperation = 'source-over';
    lit.clearRect(0, 0, w, h);
    lit.drawImage(state.image, 0, 0, w, h);
    lit.globalCompositeOperation = 'destination-in';
    lit.drawImage(selectionLayer, 0, 0);
    lit.globalCompositeOperation = 'source-atop';
    lit.fillStyle = TINT;
    lit.fillRect(0, 0, w, h);
    lit.globalCompositeOperation = 'source-over';
    ctx.drawImage(litLayer, 0, 0);

    // 3. Dashed outlines: a dark line under a white dashed one reads on any image.
    for (const shape of shapes) {
      ctx.setTransform(sx, 0, 0, sy, 0, 0);
      ctx.beginPath();
      tracePath(ctx, shape);
      ctx.setTransform(1, 0, 0, 1, 0, 0); // stroke widths in device pixels
      ctx.lineJoin = 'round';
      ctx.setLineDash([]);
      ctx.lineWidth = 3 * dpr;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.6)';
      ctx.stroke();
      ctx.setLineDash([6 * dpr, 4 * dpr]);
      ctx.lineWidth = 1.5 * dpr;
      ctx.strokeStyle = '#fff';
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }

  // -- UI state ----------------------------------------------------------------------------

  function hasSelection() {
    return state.selections.length > 0 || state.upload !== null;
  }

  /** Vary (Reference) needs a reference; Vary (Region) none. */
  function referenceReady() {
    return !state.config || !state.config.reference || window.mjReference.ready();
  }

  function canDraw() {
    return state.image !== null && !state.busy && !state.locked && state.upload === null;
  }

  /** Brings every control in line with the state. */
  function sync() {
    const frozen = state.busy || state.locked;
    const ready = state.image !== null && !frozen;
    for (const [button, tool] of [[els.rect, 'rect'], [els.lasso, 'lasso']]) {
      button.setAttribute('aria-pressed', String(state.tool === tool));
      button.disabled = !canDraw();
    }
    els.undo.disabled = !ready || !hasSelection();
    els.clear.disabled = !ready || !hasSelection();
    els.maskFile.disabled = !ready;
    els.uploadLabel.classList.toggle('disabled', !ready);
    els.uploadLabel.setAttribute('aria-disabled', String(!ready));
    els.prompt.disabled = frozen;
    els.submit.disabled = !ready || !hasSelection() || !referenceReady();
    if (state.config && state.config.reference) window.mjReference.setDisabled(frozen);
    els.submit.textContent = state.busy ? 'Submitting…' : 'Submit';
    els.canvas.classList.toggle('inactive', !canDraw());
    document.body.setAttribute('aria-busy', String(state.busy));
  }

  function setStatus(message, kind = '') {
    els.status.textContent = message;
    els.status.className = kind ? `status ${kind}` : 'status';
  }

  function selectTool(tool) {
    if (!canDraw()) return;
    state.tool = tool;
    sync();
  }

  function undo() {
    if (state.busy || state.locked) return;
    state.draft = null;
    if (state.upload) {
      state.upload = null;
      setStatus(state.selections.length ? 'Removed the uploaded mask; your drawn selections are back.'
        : 'Removed the uploaded mask.');
    } else if (state.selections.length) {
      state.selections.pop();
    }
    sync();
    scheduleRender();
  }

  function clearAll() {
    if (state.busy || state.locked) return;
    state.draft = null;
    state.selections.length = 0;
    state.upload = null;
    setStatus('');
    sync();
    scheduleRender();
  }

  // -- drawing -----------------------------------------------------------------------------

  function onPointerDown(event) {
    if (state.draft && event.pointerId !== state.draft.pointerId) {
      // A second finger: most likely a pinch, not a selection.
      cancelDraft();
      return;
    }
    if (!canDraw() || state.draft || !event.isPrimary) return;
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    event.preventDefault();
    els.canvas.setPointerCapture(event.pointerId);
    const point = toImage(event);
    state.draft = state.tool === 'rect'
      ? { type: 'rect', pointerId: event.pointerId, start: point, end: point }
      : { type: 'lasso', pointerId: event.pointerId, points: [point] };
    scheduleRender();
  }

  function onPointerMove(event) {
    const draft = state.draft;
    if (!draft || event.pointerId !== draft.pointerId) return;
    // Coalesced events keep fast lasso strokes smooth on high-rate pointers.
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) addPoint(draft, toImage(e), false);
    scheduleRender();
  }

  function addPoint(draft, point, force) {
    if (draft.type === 'rect') {
      draft.end = point;
      return;
    }
    const last = draft.points[draft.points.length - 1];
    const distance = Math.hypot(point.x - last.x, point.y - last.y) * state.cssScale;
    if (force ? distance > 0 : distance >= LASSO_STEP_PX) draft.points.push(point);
  }

  function onPointerUp(event) {
    const draft = state.draft;
    if (!draft || event.pointerId !== draft.pointerId) return;
    addPoint(draft, toImage(event), true);
    state.draft = null;
    const shape = finishShape(draft);
    if (shape) {
      state.selections.push(shape);
      if (els.status.classList.contains('error')) setStatus('');
    }
    sync();
    scheduleRender();
  }

  /** The committed selection for a finished draft, or null for an accidental drag. */
  function finishShape(draft) {
    const s = state.cssScale;
    if (draft.type === 'rect') {
      const rect = rectFrom(draft.start, draft.end);
      if (rect.width * s < MIN_RECT_PX || rect.height * s < MIN_RECT_PX) return null;
      return Object.freeze(rect);
    }
    const points = draft.points;
    if (points.length < 3) return null;
    const area = polygonArea(points) * s * s;
    // area / perimeter is half the width of a strip: a back-and-forth line encloses next to nothing.
    if (area < MIN_LASSO_AREA_PX || area / (polygonPerimeter(points) * s) < MIN_LASSO_THICKNESS_PX) return null;
    return Object.freeze({ type: 'lasso', points: Object.freeze(points.map((p) => Object.freeze({ ...p }))) });
  }

  function cancelDraft() {
    if (!state.draft) return;
    state.draft = null;
    scheduleRender();
  }

  // -- masks -------------------------------------------------------------------------------

  /** The mask as a PNG Blob: width×height, black = keep, white = repaint, only 0 and 255. */
  async function buildMask() {
    if (state.upload) return state.upload.file;
    const { width, height } = state.config;
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    // 1. Black background, each selection filled white (separate fills make a union).
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = '#fff';
    for (const shape of state.selections) {
      ctx.beginPath();
      if (shape.type === 'rect') {
        // Whole pixels: a rectangle's edges land exactly where the drag rounded to.
        const x0 = Math.round(shape.x);
        const y0 = Math.round(shape.y);
        ctx.rect(x0, y0, Math.round(shape.x + shape.width) - x0, Math.round(shape.y + shape.height) - y0);
      } else {
        tracePath(ctx, shape);
      }
      ctx.fill('nonzero');
    }
    // 2. Threshold: anti-aliased edges become strictly black or white.
    const pixels = ctx.getImageData(0, 0, width, height);
    const data = pixels.data;
    for (let i = 0; i < data.length; i += 4) {
      const v = data[i] >= 128 ? 255 : 0;
      data[i] = v;
      data[i + 1] = v;
      data[i + 2] = v;
      data[i + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
    // 3. Encode.
    return new Promise((resolve, reject) => {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the browser could not encode the mask'))), 'image/png');
    });
  }

  async function decodeImage(file) {
    if (window.createImageBitmap) {
      try {
        return await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      } catch {
        // Older engines reject the options; the <img> path below still works.
      }
    }
    const url = URL.createObjectURL(file);
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      return img;
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  /** Checks an uploaded mask and makes its overlay; UserError says what is wrong with it. */
  async function readMaskFile(file) {
    const { width, height } = state.config;
    // 1. A PNG, by its signature rather than its name.
    const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
    if (!PNG_SIGNATURE.every((byte, i) => head[i] === byte)) {
      throw new UserError(`“${file.name}” is not a PNG. Upload a PNG mask: white = redraw, black = keep.`);
    }
    // 2. Decodable.
    let image;
    try {
      image = await decodeImage(file);
    } catch {
      throw new UserError(`“${file.name}” could not be read as an image.`);
    }
    // 3. Exactly the image's size.
    const maskWidth = image.naturalWidth || image.width;
    const maskHeight = image.naturalHeight || image.height;
    if (maskWidth !== width || maskHeight !== height) {
      throw new UserError(`The mask is ${maskWidth}×${maskHeight} pixels but it must be exactly `
        + `${width}×${height}, the size of the image.`);
    }
    // 4. The overlay: white where the server will repaint (luminance × alpha ≥ 128).
    const overlay = document.createElement('canvas');
    overlay.width = width;
    overlay.height = height;
    const ctx = overlay.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(image, 0, 0);
    if (image.close) image.close();
    const pixels = ctx.getImageData(0, 0, width, height);
    const data = pixels.data;
    let white = 0;
    for (let i = 0; i < data.length; i += 4) {
      const luminance = (data[i] * 299 + data[i + 1] * 587 + data[i + 2] * 114) / 1000;
      const on = (luminance * data[i + 3]) / 255 >= 128;
      white += on ? 1 : 0;
      data[i] = 255;
      data[i + 1] = 255;
      data[i + 2] = 255;
      data[i + 3] = on ? 255 : 0;
    }
    if (white === 0) {
      throw new UserError('The mask is all black, so nothing would be redrawn. Paint the area to change white.');
    }
    ctx.putImageData(pixels, 0, 0);
    return { file, overlay };
  }

  async function onMaskFile() {
    const file = els.maskFile.files && els.maskFile.files[0];
    els.maskFile.value = ''; // picking the same file again must fire 'change' again
    if (!file || state.busy || state.locked) return;
    try {
      const upload = await readMaskFile(file);
      if (state.busy || state.locked) return;
      state.draft = null;
      state.upload = upload;
      setStatus(`Using your mask “${file.name}”.`
        + (state.selections.length ? ' It replaces the drawn selections; Undo brings them back.'
          : ' Undo or Clear removes it.'));
    } catch (error) {
      setStatus(error instanceof UserError ? error.message : `The mask could not be used: ${error.message}`, 'error');
    }
    sync();
    scheduleRender();
  }

  // -- submit ------------------------------------------------------------------------------

  async function submit() {
    if (!state.image || state.busy || state.locked || !hasSelection() || !referenceReady()) return;
    state.draft = null;
    state.busy = true;
    sync();
    setStatus('Submitting…');
    const outcome = await send();
    state.busy = false;
    if (outcome.ok) {
      state.locked = true;
      setStatus(outcome.message, 'success');
    } else {
      if (outcome.final) state.locked = true;
      setStatus(outcome.message, 'error');
    }
    sync();
    scheduleRender();
  }

  /** Posts the mask and prompt; {ok, message, final} where final means no retry can work. */
  async function send() {
    let mask;
    try {
      mask = await buildMask();
    } catch (error) {
      return { ok: false, message: `The mask could not be made: ${error.message}.` };
    }
    const form = new FormData();
    form.append('mask', mask, 'mask.png');
    if (state.config.reference) window.mjReference.append(form);
    else form.append('prompt', els.prompt.value);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), SUBMIT_TIMEOUT_MS);
    let response;
    let body = null;
    try {
      response = await fetch(state.config.submitUrl, {
        method: 'POST',
        body: form,
        credentials: 'same-origin',
        cache: 'no-store',
        signal: abort.signal,
      });
      body = await response.json().catch(() => null);
    } catch (error) {
      const message = error && error.name === 'AbortError'
        ? 'The server took too long to answer. Check Discord before trying again.'
        : 'Could not reach the server. Check your connection and press Submit again.';
      return { ok: false, message };
    } finally {
      clearTimeout(timer);
    }
    if (response.ok && body && body.ok === true) {
      return { ok: true, message: typeof body.message === 'string' && body.message ? body.message : DEFAULT_SUCCESS };
    }
    const serverMessage = body && typeof body.error === 'string' && body.error ? body.error : '';
    if (response.status === 409) return { ok: false, final: true, message: serverMessage || ALREADY_SUBMITTED };
    return {
      ok: false,
      message: serverMessage || `The server could not take the edit (HTTP ${response.status}). Press Submit to try again.`,
    };
  }

  // -- start -------------------------------------------------------------------------------

  function isTextEntry(target) {
    if (!(target instanceof HTMLElement)) return false;
    if (target instanceof HTMLTextAreaElement) return !target.readOnly && !target.disabled;
    if (target instanceof HTMLInputElement) return !['file', 'button', 'checkbox', 'radio'].includes(target.type);
    return target.isContentEditable;
  }

  function onKeyDown(event) {
    if (event.key === 'Escape' && state.draft) {
      cancelDraft();
      return;
    }
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && !event.shiftKey && event.key.toLowerCase() === 'z') {
      if (isTextEntry(event.target)) return; // the prompt keeps its own text undo
      event.preventDefault();
      undo();
    }
  }

  function start() {
    try {
      state.config = readConfig();
    } catch (error) {
      state.locked = true;
      sync();
      setStatus(error.message, 'error');
      return;
    }
    const config = state.config;
    document.title = config.title;
    els.title.textContent = config.title;
    els.prompt.value = config.prompt;
    els.prompt.readOnly = !config.promptEditable;
    els.promptHint.hidden = !config.promptEditable;
    els.maskHint.textContent = `Power users: your own PNG mask, exactly ${config.width}×${config.height} `
      + 'pixels; white = redraw, black = keep.';
    els.stage.style.setProperty('--aspect', `${config.width} / ${config.height}`);
    if (config.background) {
      // Change Background: the selection is what stays; the prompt is the new background.
      els.help.textContent = 'Drag to select the subject to keep — use Rectangle or Lasso; several '
        + 'selections add up. Everything else is repainted from the prompt.';
      els.promptLabel.textContent = 'The new background';
      els.promptHint.textContent = 'Describe what should surround the subject';
      els.maskHint.textContent = `Power users: your own PNG mask, exactly ${config.width}×${config.height} `
        + 'pixels; white = keep (the subject), black = repaint.';
    }
    if (config.reference) {
      // MimicBrush is guided by the reference, not by text: no prompt to show.
      els.prompt.hidden = true;
      els.promptLabel.hidden = true;
      els.help.textContent = 'Drag to select the area to repaint — use Rectangle or Lasso; several '
        + 'selections add up. Then choose the reference to imitate there.';
      window.mjReference.start(config, { onChange: sync, setStatus });
    }

    els.rect.addEventListener('click', () => selectTool('rect'));
    els.lasso.addEventListener('click', () => selectTool('lasso'));
    els.undo.addEventListener('click', undo);
    els.clear.addEventListener('click', clearAll);
    els.submit.addEventListener('click', submit);
    els.maskFile.addEventListener('change', onMaskFile);
    els.uploadLabel.addEventListener('click', (e) => {
      if (els.maskFile.disabled) e.preventDefault();
    });
    const canvas = els.canvas;
    canvas.addEventListener('pointerdown', onPointerDown);
    canvas.addEventListener('pointermove', onPointerMove);
    canvas.addEventListener('pointerup', onPointerUp);
    canvas.addEventListener('pointercancel', cancelDraft);
    canvas.addEventListener('lostpointercapture', (e) => {
      if (state.draft && state.draft.pointerId === e.pointerId) cancelDraft();
    });
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
    document.addEventListener('keydown', onKeyDown);
    if (window.ResizeObserver) new ResizeObserver(fit).observe(els.stage);
    window.addEventListener('resize', fit); // also catches devicePixelRatio changes (zoom)

    window.mjEditor = Object.freeze({
      buildMask,
      get selections() {
        return state.selections.slice();
      },
    });

    sync();
    fit();
    setStatus('Loading the image…');
    const image = new Image();
    image.decoding = 'async';
    image.addEventListener('load', () => {
      state.image = image;
      setStatus('');
      sync();
      fit();
    });
    image.addEventListener('error', () => {
      setStatus('The image could not be loaded. The link may have expired: open the editor again from Discord.', 'error');
    });
    image.src = config.imageUrl;
  }

  start();
})();
