/* Creator Hub chat widget: <script src=".../static/widget/widget.js" data-channel="<id>" defer></script>
 *
 * Lives in a Shadow DOM so the host page's CSS cannot break it (nor it the page's).
 * Every text from visitors, agents, documents or the model is set with textContent:
 * nothing is ever parsed as HTML, so no markup, link or image in a message runs or loads.
 * Programs: a program's question shows its choices as buttons, and "Programs" lists the
 * programs a visitor may start themselves.
 */
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.dataset.channel) return;
  const channelId = script.dataset.channel;
  const base = new URL(script.src).origin;
  // The server's signed credential for this visitor: it alone brings them back to their conversation.
  const storageKey = "creatorhub:visitor-credential:" + channelId;
  const legacyKey = "creatorhub:visitor:" + channelId; // a bare id from older widgets: no longer honoured

  let socket = null;
  let retries = 0;
  let current = null; // the AI answer being streamed into
  let open = false;

  const host = document.createElement("div");
  host.setAttribute("data-creatorhub-widget", channelId);
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
      .launcher { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%; border: 0;
        background: var(--accent); color: #fff; cursor: pointer; box-shadow: 0 6px 20px rgba(0,0,0,.25); z-index: 2147483000;
        display: flex; align-items: center; justify-content: center; padding: 0; }
      .launcher svg { width: 26px; height: 26px; fill: currentColor; }
      .panel { position: fixed; right: 20px; bottom: 88px; width: min(370px, calc(100vw - 40px)); height: min(540px, calc(100vh - 120px));
        background: #fff; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.25); display: none; flex-direction: column;
        overflow: hidden; z-index: 2147483000; color: #1f2433; font-size: 14px; }
      .panel.open { display: flex; }
      header { background: var(--accent); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 10px; }
      header img { width: 32px; height: 32px; border-radius: 50%; object-fit: cover; }
      header strong { flex: 1; font-size: 15px; }
      header button { background: none; border: 0; color: #fff; font-size: 18px; cursor: pointer; }
      .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f6f7fb; }
      .msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word; line-height: 1.4; }
      .msg.user { align-self: flex-end; background: var(--accent); color: #fff; border-bottom-right-radius: 4px; }
      .msg.ai, .msg.agent { align-self: flex-start; background: #fff; border: 1px solid #e4e7ef; border-bottom-left-radius: 4px; }
      .msg.agent { border-color: #a7f3d0; background: #f0fdf4; }
      .msg.system { align-self: center; background: none; color: #667085; font-size: 12px; text-align: center; }
      .who { display: block; font-size: 11px; color: #667085; margin-bottom: 2px; }
      .sources { margin: 6px 0 0; padding: 6px 0 0; list-style: none; border-top: 1px dashed #e4e7ef; font-size: 12px; color: #667085; }
      .note { font-size: 11px; color: #98a2b3; margin-top: 4px; }
      .typing { align-self: flex-start; color: #667085; font-size: 12px; display: none; }
      .typing.on { display: block; }
      form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e4e7ef; background: #fff; }
      textarea { flex: 1; resize: none; border: 1px solid #cfd4e2; border-radius: 8px; padding: 8px; font-size: 14px; height: 40px; }
      .send { background: var(--accent); color: #fff; border: 0; border-radius: 8px; padding: 0 14px; cursor: pointer; font-weight: 600; }
      textarea:disabled { background: #f2f4f7; }
      .send:disabled, .human:disabled { opacity: .45; cursor: default; }
      .human, .programs-toggle { border: 0; background: none; color: var(--accent); font-size: 12px; cursor: pointer; padding: 4px 12px 8px; text-align: left; }
      .state { font-size: 11px; padding: 2px 12px; color: #b45309; background: #fffbeb; display: none; }
      .state.on { display: block; }
      .choices { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
      .choices button { border: 1px solid var(--accent); color: var(--accent); background: #fff; border-radius: 14px;
        padding: 4px 10px; font-size: 13px; cursor: pointer; }
      .choices button:disabled { opacity: .5; cursor: default; }
      .choices button.picked { background: var(--accent); color: #fff; opacity: 1; }
      .actions { display: flex; justify-content: space-between; }
      .programs-toggle[hidden] { display: none; }
      .programs { border-top: 1px solid #e4e7ef; background: #fff; padding: 8px 12px; max-height: 45%; overflow-y: auto; }
      .programs[hidden] { display: none; }
      .program { display: flex; align-items: center; gap: 8px; padding: 6px 0; }
      .program + .program { border-top: 1px solid #f0f1f5; }
      .program div { flex: 1; }
      .program small { display: block; color: #667085; font-size: 12px; }
      .program button { background: var(--accent); color: #fff; border: 0; border-radius: 8px; padding: 5px 10px; cursor: pointer; }
    </style>
    <button class="launcher" type="button" aria-label="Open chat" aria-expanded="false"><svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg></button>
    <section class="panel" role="dialog" aria-label="Chat">
      <header><img class="avatar" alt="" hidden><strong class="title">Chat</strong><button class="close" type="button" aria-label="Close">×</button></header>
      <div class="state" role="status"></div>
      <div class="log" aria-live="polite"></div>
      <div class="typing">Typing…</div>
      <div class="programs" hidden></div>
      <div class="actions"><button class="human" type="button">Talk to a human</button>
        <button class="programs-toggle" type="button" aria-expanded="false" hidden>Programs</button></div>
      <form><textarea rows="1" placeholder="Type your question…" aria-label="Message" maxlength="4000"></textarea>
        <button class="send" type="submit">Send</button></form>
    </section>`;
  const $ = (selector) => root.querySelector(selector);
  const log = $(".log");
  host.style.setProperty("--accent", "#4f46e5");

  function credential() { try { return localStorage.getItem(storageKey); } catch (e) { return null; } }
  function keepCredential(value) {
    try { localStorage.setItem(storageKey, value); localStorage.removeItem(legacyKey); } catch (e) { /* private mode */ }
  }

  function bubble(sender, text, extra) {
    const el = document.createElement("div");
    el.className = "msg " + sender;
    if (sender === "agent" || sender === "ai") {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = sender === "agent" ? (extra && extra.agent_name) || "Team" : "Assistant";
      el.appendChild(who);
    }
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = text;
    el.appendChild(body);
    if (extra) decorate(el, extra);
    log.appendChild(el);
    scrollDown();
    return el;
  }

  function decorate(el, frame) {
    if (frame.sources && frame.sources.length) {
      const list = document.createElement("ul");
      list.className = "sources";
      const seen = new Set();
      frame.sources.forEach((source) => {
        if (seen.has(source.document_title)) return;
        seen.add(source.document_title);
        const item = document.createElement("li");
        item.textContent = "Source: " + source.document_title + (source.section ? " — " + source.section : "");
        list.appendChild(item);
      });
      el.appendChild(list);
    }
    if (frame.choices && frame.choices.length) el.appendChild(choiceButtons(frame.choices));
    if (frame.answer_mode === "extractive") {
      const note = document.createElement("div");
      note.className = "note";
      note.textContent = "Quoted from the course material (no AI model is connected).";
      el.appendChild(note);
    }
  }

  // A program's question: each choice is sent as the visitor's reply; the buttons are spent once used.
  function choiceButtons(choices) {
    const group = document.createElement("div");
    group.className = "choices";
    choices.forEach((choice) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = choice;
      button.addEventListener("click", () => {
        if (sendText(choice)) button.classList.add("picked");
      });
      group.appendChild(button);
    });
    return group;
  }

  function spendChoices() { root.querySelectorAll(".choices button").forEach((b) => { b.disabled = true; }); }

  function sendText(text) {
    if (!sendFrame({ type: "text", text })) return false;
    spendChoices();
    bubble("user", text);
    return true;
  }

  // The programs this visitor may start themselves, behind the "Programs" button.
  function listPrograms(programs) {
    const list = $(".programs");
    list.textContent = "";
    programs.forEach((program) => {
      const row = document.createElement("div");
      row.className = "program";
      const text = document.createElement("div");
      text.textContent = program.name;
      if (program.description) {
        const description = document.createElement("small");
        description.textContent = program.description;
        text.appendChild(description);
      }
      const start = document.createElement("button");
      start.type = "button";
      start.textContent = "Start";
      start.addEventListener("click", () => {
        if (sendFrame({ type: "start_program", program_id: program.id })) showPrograms(false);
      });
      row.append(text, start);
      list.appendChild(row);
    });
    $(".programs-toggle").hidden = !programs.length;
    if (!programs.length) showPrograms(false);
  }

  function showPrograms(show) {
    $(".programs").hidden = !show;
    $(".programs-toggle").setAttribute("aria-expanded", String(show));
  }

  // A hidden panel has no height, so this is also done each time it opens.
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function setPanel(isOpen) {
    open = isOpen;
    $(".panel").classList.toggle("open", open);
    $(".launcher").setAttribute("aria-expanded", String(open));
    if (open) { scrollDown(); $("textarea").focus(); }
  }

  function setState(text) { const s = $(".state"); s.textContent = text || ""; s.classList.toggle("on", !!text); }

  function onFrame(frame) {
    if (frame.type === "connection_established") {
      retries = 0;
      setState("");
      const config = frame.config || {};
      host.style.setProperty("--accent", /^#[0-9a-fA-F]{6}$/.test(config.widget_color) ? config.widget_color : "#4f46e5");
      $(".title").textContent = config.title || "Chat";
      if (config.avatar_url) { $(".avatar").src = config.avatar_url; $(".avatar").hidden = false; }
      log.textContent = "";
      current = null; // an answer cut off by a dropped connection comes back whole in the history
      if (config.welcome_message) bubble("ai", config.welcome_message);
      (frame.history || []).forEach((m) => bubble(m.sender, m.text, m));
      listPrograms(frame.programs || []);
      // After a reload the visitor still sees who is answering.
      if (frame.status === "with_agent") bubble("system", "A team member has this conversation.");
      else if (frame.status === "waiting_for_human") bubble("system", "A team member will reply here as soon as possible.");
    } else if (frame.type === "typing") {
      $(".typing").classList.toggle("on", !!frame.active);
    } else if (frame.type === "message" && frame.delta !== undefined) {
      if (!current) current = bubble("ai", "");
      current.querySelector(".body").textContent += frame.delta;
      scrollDown();
    } else if (frame.type === "message") {
      $(".typing").classList.remove("on");
      // A program's message may arrive while an answer streams: it gets a bubble of its own.
      if (current && frame.sender === "ai" && frame.answer_mode !== "program") {
        current.querySelector(".body").textContent = frame.text;
        decorate(current, frame);
        current = null;
        scrollDown();
      } else {
        bubble(frame.sender, frame.text, frame);
      }
    } else if (frame.type === "program_started") {
      bubble("system", "You started “" + frame.name + "”.");
    } else if (frame.type === "handover_request" || frame.type === "handover_initiated" || frame.type === "status") {
      if (frame.text) bubble("system", frame.text);
    } else if (frame.type === "error") {
      if (frame.code === "CONNECTION_REFUSED") setState(frame.message);
      else bubble("system", frame.message);
    }
  }

  async function connect() {
    try {
      const response = await fetch(base + "/widget/" + channelId + "/session", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ visitor_credential: credential() }),
      });
      // Refused (this website is not allowed, or the channel is gone): retrying would not help.
      if (response.status === 403 || response.status === 404) { unavailable(); return; }
      if (!response.ok) { reconnect(); return; } // rate limited or the server is restarting
      const session = await response.json();
      keepCredential(session.visitor_credential);
      const url = base.replace(/^http/, "ws") + session.socket_path + "?token=" + encodeURIComponent(session.token);
      socket = new WebSocket(url);
      socket.onmessage = (event) => { try { onFrame(JSON.parse(event.data)); } catch (e) { /* ignore bad frames */ } };
      socket.onclose = () => { socket = null; reconnect(); };
    } catch (e) {
      reconnect();
    }
  }

  function unavailable() {
    setState("Chat is unavailable on this page.");
    $(".launcher").setAttribute("aria-label", "Chat unavailable");
    root.querySelectorAll("textarea, .send, .human").forEach((el) => { el.disabled = true; });
  }

  function reconnect() {
    retries += 1;
    setState("Reconnecting…");
    setTimeout(connect, Math.min(30000, 500 * 2 ** Math.min(retries, 6)));
  }

  function sendFrame(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  $(".launcher").addEventListener("click", () => setPanel(!open));
  $(".close").addEventListener("click", () => setPanel(false));
  $(".human").addEventListener("click", () => sendFrame({ type: "handover_request" }));
  $(".programs-toggle").addEventListener("click", () => showPrograms($(".programs").hidden));
  $("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("textarea").value.trim();
    if (!text) return;
    if (sendText(text)) $("textarea").value = "";
  });
  $("textarea").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("form").requestSubmit(); }
  });

  document.body.appendChild(host);
  connect();
})();
