// Talking to the playground server: JSON and multipart requests, and the live feed.
'use strict';

/** A refusal the server explains (a disabled button, a missing option): shown to the user. */
export class ApiError extends Error {}

async function answer(response) {
  let data = {};
  try {
    data = await response.json();
  } catch {
    // an empty or non-JSON body: the status says enough
  }
  if (!response.ok) throw new ApiError(data.error || `The server answered ${response.status}`);
  return data;
}

export async function getJSON(url) {
  return answer(await fetch(url, { headers: { Accept: 'application/json' } }));
}

export async function postJSON(url, body) {
  return answer(await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }));
}

/** `payload` as JSON plus one part per file, named after what it is for (an option, "file0"…). */
export async function postForm(url, payload, files) {
  const form = new FormData();
  form.append('payload', JSON.stringify(payload));
  for (const [name, file] of files) form.append(name, file, file.name);
  return answer(await fetch(url, { method: 'POST', body: form }));
}

/**
 * The live feed: every change in the world, as it happens. Reconnects by itself; `onOpen`
 * runs on every (re)connection, so the page can reload what it may have missed.
 */
export function connectLive(onEvent, onOpen, onClose) {
  let retry = 250;
  const open = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/client/live`);
    socket.addEventListener('open', () => {
      retry = 250;
      onOpen();
    });
    socket.addEventListener('message', (event) => onEvent(JSON.parse(event.data)));
    socket.addEventListener('close', () => {
      onClose();
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 5000);
    });
  };
  open();
}
