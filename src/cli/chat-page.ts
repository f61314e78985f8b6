/**
 * The page `promptline serve` shows at `/`: plain HTML and one inline script, no
 * build step, nothing loaded from elsewhere. It signs in with a bearer token (kept
 * in localStorage), lists the user's sessions, shows a session's history, and
 * streams replies from the API's Server-Sent Events. Text is only ever set with
 * `textContent`, never parsed as HTML.
 */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>promptline chat</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; color: #1d1d1f; }
  header { display: flex; gap: .5rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid #ddd; flex-wrap: wrap; }
  header h1 { font-size: 1rem; margin: 0 1rem 0 0; }
  #status { padding: .4rem 1rem; min-height: 1.2em; color: #555; }
  #status.error { background: #fde8e8; color: #9b1c1c; }
  #log { flex: 1; overflow-y: auto; padding: 1rem; display: flex; flex-direction: column; gap: .5rem; }
  .msg { max-width: 46rem; padding: .5rem .75rem; border-radius: .6rem; white-space: pre-wrap; }
  .user { align-self: flex-end; background: #dbeafe; }
  .assistant { align-self: flex-start; background: #f1f1f3; }
  .tool { align-self: flex-start; background: #fef3c7; font-family: ui-monospace, monospace; }
  form { display: flex; gap: .5rem; padding: .75rem 1rem; border-top: 1px solid #ddd; }
  #input { flex: 1; font: inherit; padding: .5rem; }
  input, select, button { font: inherit; padding: .3rem .5rem; }
</style>
</head>
<body>
<header>
  <h1>promptline</h1>
  <label>Token <input id="token" type="password" autocomplete="current-password" size="18"></label>
  <button id="signin" type="button">Sign in</button>
  <label>Session <select id="sessions"></select></label>
  <input id="new-session" placeholder="new session id" size="14">
  <button id="create" type="button">Open</button>
</header>
<div id="status" role="status" aria-live="polite"></div>
<main id="log" aria-live="polite"></main>
<form id="composer">
  <textarea id="input" rows="2" placeholder="Type a message; Enter sends, Shift+Enter adds a line" aria-label="Message"></textarea>
  <button id="send" type="submit">Send</button>
</form>
<script>
'use strict'
const $ = (id) => document.getElementById(id)
const state = { token: localStorage.getItem('promptline.token') || '', session: localStorage.getItem('promptline.session') || 'default' }

function status(text, isError) {
  $('status').textContent = text
  $('status').className = isError ? 'error' : ''
}

function explain(response, problem) {
  if (response.status === 401) return 'The token was not accepted. Check the token the server printed at start.'
  if (response.status === 403) return 'This token may not use the chat.'
  return (problem && problem.detail) || ('The server answered ' + response.status + '.')
}

async function api(path, init) {
  const response = await fetch('/api' + path, {
    ...init,
    headers: { authorization: 'Bearer ' + state.token, 'content-type': 'application/json', ...(init && init.headers) },
  })
  return response
}

async function problemOf(response) {
  try { return await response.json() } catch { return undefined }
}

function bubble(role, text) {
  const div = document.createElement('div')
  div.className = 'msg ' + role
  div.dataset.role = role
  div.textContent = text
  $('log').append(div)
  $('log').scrollTop = $('log').scrollHeight
  return div
}

async function loadSessions() {
  const response = await api('/sessions')
  if (!response.ok) {
    status(explain(response, await problemOf(response)), true)
    return false
  }
  const { sessions } = await response.json()
  if (!sessions.includes(state.session)) sessions.unshift(state.session)
  const select = $('sessions')
  select.replaceChildren(...sessions.map((id) => {
    const option = document.createElement('option')
    option.value = id
    option.textContent = id
    option.selected = id === state.session
    return option
  }))
  return true
}

async function loadHistory() {
  $('log').replaceChildren()
  const response = await api('/sessions/' + encodeURIComponent(state.session) + '/messages')
  if (response.status === 404) {
    status('Session "' + state.session + '" is new: say something.')
    return
  }
  if (!response.ok) {
    status(explain(response, await problemOf(response)), true)
    return
  }
  const { messages } = await response.json()
  for (const message of messages) bubble(message.role, message.content)
  status('Session "' + state.session + '": ' + messages.length + ' messages.')
}

async function signIn() {
  state.token = $('token').value.trim()
  localStorage.setItem('promptline.token', state.token)
  if (await loadSessions()) await loadHistory()
}

async function openSession(id) {
  if (!id) return
  state.session = id
  localStorage.setItem('promptline.session', id)
  await loadSessions()
  await loadHistory()
}

async function send(text) {
  bubble('user', text)
  const reply = bubble('assistant', '')
  reply.dataset.streaming = 'true'
  $('send').disabled = true
  try {
    const response = await api('/sessions/' + encodeURIComponent(state.session) + '/messages', {
      method: 'POST',
      body: JSON.stringify({ content: text, stream: true }),
    })
    if (!response.ok) {
      reply.remove()
      status(explain(response, await problemOf(response)), true)
      return
    }
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let end
      while ((end = buffer.indexOf('\\n\\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        let event = 'message'
        let data = ''
        for (const line of block.split('\\n')) {
          if (line.startsWith('event: ')) event = line.slice(7)
          else if (line.startsWith('data: ')) data += line.slice(6)
        }
        if (data === '') continue
        const payload = JSON.parse(data)
        if (event === 'delta') reply.textContent += payload.text
        else if (event === 'done') { reply.textContent = payload.message.content; status('Session "' + state.session + '": ' + payload.storedLength + ' messages.') }
        else if (event === 'error') { status(payload.detail, true); if (reply.textContent === '') reply.remove() }
      }
    }
  } catch (error) {
    status('The connection failed: ' + error.message, true)
  } finally {
    delete reply.dataset.streaming
    $('send').disabled = false
  }
}

$('signin').addEventListener('click', () => void signIn())
$('token').addEventListener('keydown', (event) => { if (event.key === 'Enter') void signIn() })
$('sessions').addEventListener('change', (event) => void openSession(event.target.value))
$('create').addEventListener('click', () => { void openSession($('new-session').value.trim()); $('new-session').value = '' })
$('composer').addEventListener('submit', (event) => {
  event.preventDefault()
  const text = $('input').value.trim()
  if (text === '' || $('send').disabled) return
  $('input').value = ''
  void send(text)
})
$('input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); $('composer').requestSubmit() }
})

$('token').value = state.token
if (state.token) void signIn()
else status('Enter the token the server printed at start, then Sign in.')
</script>
</body>
</html>
`
