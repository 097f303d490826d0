// The playground page: a server with channels, DMs with the bot, a person switcher, the live
// feed, and the glue between the timeline, the composer and the server.
'use strict';

import { connectLive, getJSON, postForm, postJSON } from './api.js';
import { Composer } from './composer.js';
import { refreshRelative } from './markdown.js';
import { openModal } from './modal.js';
import { avatar } from './render.js';
import { Timeline } from './timeline.js';
import { EmojiPicker, Lightbox, toast } from './widgets.js';

const $ = (id) => document.getElementById(id);
const state = {
  world: null,
  me: localStorage.getItem('mj.me'),
  channelId: localStorage.getItem('mj.channel'),
  unread: new Set(),
  seen: new Map(), // interaction id -> its latest view (events may beat the POST's answer)
  mine: new Map(), // interaction id -> {button} for the ones this page started
  modals: new Set(), // interactions whose form was opened already
};

const channels = () => state.world.guilds.flatMap((g) => g.channels);
const allChannels = () => [...channels(), ...state.world.dms];
const channelById = (id) => allChannels().find((c) => c.id === id);
const person = (id) => [state.world.bot, ...state.world.users].find((u) => u.id === id);

const ctx = {
  get me() { return state.me; },
  userName: (id) => person(id)?.username || 'unknown-user',
  channelName: (id) => channelById(id)?.name || 'unknown-channel',
  roleName: () => 'everyone',
  people: () => state.world.users,
  channels,
  botName: () => state.world.bot.username,
  guildId: () => state.world.guilds[0].id,
  uploadLimit: () => {
    const channel = channelById(state.channelId);
    const guild = state.world.guilds.find((g) => g.id === channel?.guild_id);
    return guild ? guild.upload_limit : state.world.dm_upload_limit;
  },
  channelTitle: (id) => {
    const channel = channelById(id);
    return channel?.recipient_id ? `your DMs with @${state.world.bot.username}` : `#${channel?.name || ''}`;
  },
};

const lightbox = new Lightbox($('lightbox'), $('lightbox-image'), $('lightbox-open'));
const picker = new EmojiPicker($('emoji-picker'), (message, emoji) => react(message, emoji, true));

const timeline = new Timeline({
  scroller: $('scroller'), list: $('timeline'), top: $('history-top'), ctx,
  actions: {
    openImage: (url) => lightbox.show(url),
    press: (message, customId, button) => startInteraction(
      postJSON('/client/components', { user_id: state.me, message_id: message.id, custom_id: customId }), button),
    select: (message, customId, values) => startInteraction(
      postJSON('/client/components', { user_id: state.me, message_id: message.id, custom_id: customId, values }), null),
    react: (message, emoji, add) => react(message, emoji, add),
    pickEmoji: (message, anchor) => picker.show(message, anchor),
  },
});

const composer = new Composer({
  form: $('composer'), input: $('command-input'), popup: $('popup'), bar: $('options-bar'),
  files: $('composer-files'), error: $('composer-error'), fileInput: $('file-input'), attach: $('attach'), ctx,
  actions: {
    sendMessage: async (content, files) => {
      timeline.stick();
      await postForm(`/client/channels/${state.channelId}/messages`, { user_id: state.me, content }, files);
    },
    runCommand: async ({ entry, options, files }) => {
      timeline.stick();
      const payload = { user_id: state.me, channel_id: state.channelId, name: entry.name, subcommand: entry.subcommand, options };
      const view = await postForm('/client/commands', payload, files);
      if (!view.acknowledged) timeline.pending(view.id, entry.path);
      track(view, null);
    },
    autocomplete: (request) => postJSON('/client/autocomplete', { ...request, user_id: state.me, channel_id: state.channelId }),
  },
});

// -- interactions -------------------------------------------------------------------------------

async function startInteraction(request, button) {
  button?.classList.add('pending');
  try {
    track(await request, button);
  } catch (error) {
    button?.classList.remove('pending');
    toast(error.message);
  }
}

function track(view, button) {
  state.mine.set(view.id, { button });
  onInteraction(state.seen.get(view.id) || view);
  setTimeout(() => button?.classList.remove('pending'), state.world.ack_deadline * 1000 + 500);
}

function onInteraction(view) {
  state.seen.set(view.id, view);
  if (state.seen.size > 500) state.seen.delete(state.seen.keys().next().value);
  const mine = state.mine.get(view.id);
  if (mine && (view.acknowledged || view.failed)) mine.button?.classList.remove('pending');
  if (view.channel_id === state.channelId) timeline.settle(view);
  if (view.modal && view.user_id === state.me && !state.modals.has(view.id)) {
    state.modals.add(view.id);
    openModal($('modal'), view.modal, ctx, async (values) => {
      const answer = await postJSON('/client/modals', { user_id: state.me, interaction_id: view.id, values });
      track(answer, null);
    });
  }
}

async function react(message, emoji, add) {
  try {
    await postJSON('/client/reactions', { user_id: state.me, message_id: message.id, emoji, add });
  } catch (error) {
    toast(error.message);
  }
}

// -- the frame ----------------------------------------------------------------------------------

function commandsHere() {
  const channel = channelById(state.channelId);
  const guild = state.world.guilds.find((g) => g.id === channel?.guild_id);
  return [...(guild ? guild.commands : []), ...state.world.global_commands];
}

function renderFrame() {
  const { world } = state;
  $('guild-name').textContent = world.guilds[0]?.name || '';
  $('server-list').replaceChildren(...world.guilds.map((g) => {
    const icon = Object.assign(document.createElement('button'), { type: 'button', className: 'server-icon active', title: g.name });
    icon.textContent = g.name.split(/\s+/).map((w) => w[0]).join('').slice(0, 3);
    icon.addEventListener('click', () => selectChannel(g.channels[0].id));
    return icon;
  }));
  const navButton = (channel, label, hash) => {
    const li = document.createElement('li');
    const button = Object.assign(document.createElement('button'), { type: 'button' });
    button.dataset.channelId = channel.id;
    button.classList.toggle('active', channel.id === state.channelId);
    button.classList.toggle('unread', state.unread.has(channel.id));
    button.innerHTML = `<span class="hash" aria-hidden="true">${hash}</span>`;
    button.append(document.createTextNode(label));
    button.addEventListener('click', () => selectChannel(channel.id));
    li.append(button);
    return li;
  };
  $('channels').replaceChildren(...channels().map((c) => navButton(c, c.name, '#')));
  const myDms = world.dms.filter((d) => d.recipient_id === state.me);
  $('dms').replaceChildren(...myDms.map((d) => navButton(d, world.bot.username, '@')));
  const switcher = $('user-switch');
  switcher.replaceChildren(...world.users.map((u) => new Option(u.username, u.id, false, u.id === state.me)));
  $('me-avatar').replaceWith(Object.assign(avatar(person(state.me), 'small'), { id: 'me-avatar' }));
  renderMembers();
}

function renderMembers() {
  const { world } = state;
  const rows = [world.bot, ...world.users].map((u) => {
    const li = document.createElement('li');
    const online = u.bot ? world.connected : true;
    li.className = online ? 'online' : '';
    li.append(avatar(u, 'small'), Object.assign(document.createElement('span'), { className: 'presence' }));
    li.append(document.createTextNode(u.username));
    if (u.bot) li.append(Object.assign(document.createElement('span'), { className: 'tag', textContent: 'APP' }));
    return li;
  });
  $('member-list').replaceChildren(...rows);
  const status = $('bot-status');
  status.className = `bot-status ${world.connected ? 'online' : 'offline'}`;
  status.textContent = `${world.bot.username} ${world.connected ? 'online' : 'offline'}`;
}

async function selectChannel(id) {
  state.channelId = id;
  localStorage.setItem('mj.channel', id);
  state.unread.delete(id);
  const channel = channelById(id);
  $('channel-name').textContent = channel.recipient_id ? state.world.bot.username : channel.name;
  document.querySelector('#channel-header .hash').textContent = channel.recipient_id ? '@' : '#';
  renderFrame();
  composer.setChannel(channel.recipient_id ? `@${state.world.bot.username}` : `#${channel.name}`, commandsHere());
  const notices = state.world.notices.filter((n) => n.channel_id === id);
  await timeline.open(id, notices);
}

async function loadWorld() {
  state.world = await getJSON('/client/state');
  const users = state.world.users;
  if (!users.some((u) => u.id === state.me)) state.me = users[0].id;
  const channel = channelById(state.channelId);
  if (!channel || (channel.recipient_id && channel.recipient_id !== state.me)) state.channelId = channels()[0].id;
  localStorage.setItem('mj.me', state.me);
}

let reloading = null;
function reloadWorld() {
  // Several changes in a row (a sync, a new DM) reload once.
  reloading ??= new Promise((resolve) => setTimeout(resolve, 100)).then(async () => {
    reloading = null;
    const before = state.channelId;
    await loadWorld();
    renderFrame();
    composer.setCommands(commandsHere());
    if (state.channelId !== before) await selectChannel(state.channelId);
  });
  return reloading;
}

// -- the live feed ------------------------------------------------------------------------------

function onEvent({ t, d, new: created }) {
  if (t === 'message') {
    if (d.channel_id === state.channelId) timeline.upsert(d);
    else if (created && (!d.ephemeral_for || d.ephemeral_for === state.me)) {
      state.unread.add(d.channel_id);
      if (!channelById(d.channel_id)) reloadWorld();
      else renderFrame();
    }
  } else if (t === 'message_delete') {
    timeline.remove(d.id);
  } else if (t === 'interaction') {
    onInteraction(d);
  } else if (t === 'notice') {
    state.world.notices.push(d);
    if (!d.channel_id || d.channel_id === state.channelId) timeline.notice(d);
    toast(`Discord would refuse this (${d.kind}): ${d.message}`);
  } else if (t === 'presence') {
    state.world.connected = d.connected;
    renderMembers();
  } else if (t === 'world') {
    reloadWorld();
  }
}

let first = true;
const ready = new Promise((resolve) => {
  connectLive(onEvent, async () => {
    // (Re)connected: whatever happened while away is reloaded.
    await loadWorld();
    await selectChannel(state.channelId);
    if (first) {
      first = false;
      resolve();
    }
  }, () => {
    if (state.world) {
      state.world.connected = false;
      renderMembers();
    }
  });
});

$('user-switch').addEventListener('change', async (event) => {
  state.me = event.target.value;
  localStorage.setItem('mj.me', state.me);
  const channel = channelById(state.channelId);
  if (channel?.recipient_id && channel.recipient_id !== state.me) {
    await selectChannel(channels()[0].id);
  } else {
    renderFrame();
    timeline.rerender();
  }
});
$('open-dm').addEventListener('click', async () => {
  const dm = await postJSON('/client/dms', { user_id: state.me });
  await reloadWorld();
  await selectChannel(dm.id);
});
$('home').addEventListener('click', () => $('open-dm').click());
setInterval(() => refreshRelative(document), 10000);

window.mjPlayground = { state, timeline, composer, ready };
