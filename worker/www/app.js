// llmfork chat page: sends the conversation to POST chat/stream and shows
// the answer as the NDJSON lines arrive (the @microsoft/ai-chat-protocol
// stream shape: {"delta":{"content":"..."}} per line, {"error":"..."} when
// the model fails mid-stream). No framework, no build step.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('composer');
  const box = $('message');
  const send = $('send');
  const stop = $('stop');
  const list = $('messages');
  const status = $('status');
  const empty = $('empty');
  const chat = $('chat');

  // The conversation sent with every request: [{role, content}, ...].
  let history = [];
  let sessionState = null;
  let controller = null;        // the AbortController of the answer streaming now

  class ChatError extends Error {}

  function scrollToEnd() {
    chat.scrollTop = chat.scrollHeight;
  }

  function addMessage(role, text) {
    const li = document.createElement('li');
    li.className = 'msg ' + role;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = role === 'user' ? 'You' : 'Assistant';
    const content = document.createElement('div');
    content.className = 'content';
    content.textContent = text;
    li.append(who, content);
    list.append(li);
    empty.hidden = true;
    scrollToEnd();
    return { li, content };
  }

  // A reasoning model's thinking: shown collapsed above the answer, never
  // sent back in the conversation.
  function addThinking(li, content) {
    const details = document.createElement('details');
    details.className = 'thinking';
    const summary = document.createElement('summary');
    summary.textContent = 'Thinking';
    const text = document.createElement('div');
    text.className = 'thoughts';
    text.style.whiteSpace = 'pre-wrap';
    details.append(summary, text);
    li.insertBefore(details, content);
    return text;
  }

  function showError(li, text) {
    const p = document.createElement('p');
    p.className = 'error';
    p.setAttribute('role', 'alert');
    p.textContent = text;
    li.append(p);
    li.classList.add('failed');
    scrollToEnd();
  }

  // Retry-After is seconds or an HTTP date.
  function retrySeconds(value) {
    if (!value) return null;
    if (/^\s*\d+\s*$/.test(value)) return Number(value);
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : Math.max(0, Math.ceil((t - Date.now()) / 1000));
  }

  async function httpError(resp) {
    let detail = '';
    try {
      const body = await resp.json();
      detail = typeof body.error === 'string' ? body.error : (body.error && body.error.message) || '';
    } catch (e) {
      // not JSON: the status says enough
    }
    if (resp.status === 429) {
      const s = retrySeconds(resp.headers.get('Retry-After'));
      return `The model is busy, retry in ${s === null ? 'a moment' : s + ' s'}.`;
    }
    const what = resp.status >= 500 ? 'The server could not answer' : 'The request was refused';
    return `${what} (HTTP ${resp.status})${detail ? ': ' + detail : '.'}`;
  }

  // The browser's own words for a lost connection ("Failed to fetch",
  // "network error") and a parser's ("Unexpected token '<'") mean nothing
  // to the person chatting: these say what happened and what to do.
  const UNREACHABLE = 'Cannot reach the server. Check the connection, then send again.';
  const LOST = 'The answer broke off: the connection to the server was lost.';
  const UNREADABLE = 'The server sent something that is not a chat answer.';

  // fetch, with a failure to connect as a ChatError (Stop stays an abort).
  async function post(url, init) {
    try {
      return await fetch(url, init);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ChatError(UNREACHABLE);
    }
  }

  // Calls onLine(object) for each NDJSON line of a fetch body as it arrives.
  // A connection lost mid-answer, or a line that is not JSON (a proxy's
  // HTML page), is a ChatError; Stop stays an AbortError.
  async function readLines(body, onLine) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    const flush = (final) => {
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0 || (final && buf.trim())) {
        const line = nl >= 0 ? buf.slice(0, nl) : buf;
        buf = nl >= 0 ? buf.slice(nl + 1) : '';
        if (!line.trim()) continue;
        let obj;
        try {
          obj = JSON.parse(line);
        } catch (e) {
          throw new ChatError(UNREADABLE);
        }
        onLine(obj);
      }
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        flush(false);
      }
      buf += decoder.decode();
      flush(true);
    } catch (e) {
      reader.cancel().catch(() => {});
      if (e instanceof ChatError || e.name === 'AbortError') throw e;
      throw new ChatError(LOST);
    }
  }

  function setBusy(busy) {
    send.hidden = busy;
    stop.hidden = !busy;
    if (busy) status.textContent = 'Answering…';
  }

  async function ask(text) {
    const conv = history;       // "New chat" while streaming starts another
    conv.push({ role: 'user', content: text });
    addMessage('user', text);
    const { li, content } = addMessage('assistant', '');
    li.classList.add('streaming');
    li.setAttribute('aria-busy', 'true');
    controller = new AbortController();
    setBusy(true);

    let answer = '';
    let thinking = null;        // a reasoning model's thoughts, collapsed
    let note = '';              // for the status line; errors speak as alerts
    let failed = false;
    try {
      const resp = await post('chat/stream', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
        body: JSON.stringify({ messages: conv, session_state: sessionState }),
        signal: controller.signal,
      });
      if (!resp.ok) throw new ChatError(await httpError(resp));
      await readLines(resp.body, (obj) => {
        if (obj.error) {
          throw new ChatError('The answer broke off: ' +
            (typeof obj.error === 'string' ? obj.error : obj.error.message || 'unknown error'));
        }
        if ('session_state' in obj) sessionState = obj.session_state;
        const thought = obj.delta && obj.delta.context && obj.delta.context.thoughts;
        if (typeof thought === 'string' && thought) {
          thinking = thinking || addThinking(li, content);
          thinking.textContent += thought;
        }
        const piece = obj.delta && obj.delta.content;
        if (piece) {
          answer += piece;
          content.textContent = answer;
          scrollToEnd();
        }
      });
    } catch (e) {
      if (e.name === 'AbortError') {
        note = 'Stopped.';
        li.classList.add('stopped');
      } else {
        failed = true;
        showError(li, e instanceof ChatError ? e.message : 'Something went wrong: ' + e.message);
      }
    }
    controller = null;
    setBusy(false);
    li.classList.remove('streaming');
    li.removeAttribute('aria-busy');
    if (conv !== history) return;       // "New chat" dropped this conversation
    if (answer) {
      conv.push({ role: 'assistant', content: answer });
    } else {
      // Nothing came back: forget the question so a retry does not send it
      // twice, and give it back to the person to send again.
      conv.pop();
      if (!failed && !note) showError(li, 'The model sent an empty answer.');
      if (!box.value) box.value = text;
    }
    status.textContent = note;
    box.focus();
  }

  function submit() {
    const text = box.value.trim();
    if (!text || controller) return;
    box.value = '';
    fitBox();
    ask(text);
  }

  function fitBox() {
    box.style.height = 'auto';
    box.style.height = Math.min(box.scrollHeight, 200) + 'px';
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  box.addEventListener('input', fitBox);
  // Aborting the fetch closes the connection; llmfork then cancels the
  // upstream call at once.
  stop.addEventListener('click', () => {
    if (controller) controller.abort();
    box.focus();
  });
  $('new-chat').addEventListener('click', () => {
    if (controller) controller.abort();
    history = [];
    sessionState = null;
    list.replaceChildren();
    empty.hidden = false;
    status.textContent = '';
    box.focus();
  });
  box.focus();
})();
