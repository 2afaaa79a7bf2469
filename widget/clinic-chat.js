/*
 * Clinic chat widget: the website front end of the clinic's patient assistant.
 *
 * Embed with one tag (the stylesheet clinic-chat.css is loaded from next to
 * this script):
 *
 *   <script src="/clinic-chat.js" data-server-url="https://assistant.example"
 *           data-clinic-name="Example Clinic" data-primary-color="#0f6e6e"
 *           data-text-color="#ffffff" defer></script>
 *
 * Optional: data-init-payload (default "/greet"; empty to turn off) is sent,
 * unseen, when a patient first opens the chat, so that the conversation starts
 * with the assistant's "automated assistant, not medical advice" notice.
 *
 * It talks to Rasa's REST channel (POST {server}/webhooks/rest/webhook).  The
 * conversation id and the transcript are kept in localStorage, so a reload or
 * a new tab continues the same conversation; "Start over" forgets both.
 *
 * Message content is only ever inserted as text (textContent / text nodes),
 * never as HTML.  The only global is window.ClinicChat (open / close / reset).
 */
(() => {
  "use strict";

  if (window.ClinicChat) return; // embedded twice: the first one wins

  const script =
    document.currentScript || document.querySelector('script[src*="clinic-chat.js"]');
  if (!script) return;

  const SENDER_ID = /^[A-Za-z0-9_.:@+-]{1,128}$/;
  const COLOR = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
  const WEB_URL = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"]+$/;
  const MAX_MESSAGE_CHARS = 2000;
  const MAX_STORED_MESSAGES = 200;
  const REQUEST_TIMEOUT_MS = 45000;
  // A message that got no answer because a server was restarting (behind the
  // load balancer) is sent again, with the same id, after these pauses.
  const RETRY_DELAYS_MS = [1000, 3000];
  // Rate-limited (429): wait as told and send again, at most this many times.
  const MAX_RATE_LIMIT_WAITS = 3;
  const WAIT_NOTE = "You're sending messages quickly. I'll send your last message again in";
  const ERROR_TEXT =
    "Sorry, I can't reach the assistant right now. Please try again, or call the clinic.";

  const data = script.dataset;
  const config = {
    serverUrl: webUrl((data.serverUrl || "").trim().replace(/\/+$/, "")),
    clinicName: (data.clinicName || "").trim() || "Our clinic",
    primary: COLOR.test(data.primaryColor || "") ? data.primaryColor : "#0f6e6e",
    initPayload: data.initPayload === undefined ? "/greet" : data.initPayload.trim(),
  };
  config.onPrimary = COLOR.test(data.textColor || "") ? data.textColor : readableOn(config.primary);
  if (!config.serverUrl) {
    console.error("clinic-chat: data-server-url must be the assistant's http(s) address.");
    return;
  }

  const STATE_KEY = `clinic-chat:v1:${config.serverUrl}`;
  const OPEN_KEY = `${STATE_KEY}:open`;
  const store = usableStorage(() => window.localStorage);
  const tabStore = usableStorage(() => window.sessionStorage);

  // ---- small helpers ------------------------------------------------------

  function webUrl(text) {
    try {
      const url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? text : "";
    } catch (_) {
      return "";
    }
  }

  function readableOn(hex) {
    let digits = hex.slice(1);
    if (digits.length <= 4) digits = [...digits].map((d) => d + d).join("");
    const [r, g, b] = [0, 2, 4].map((i) => {
      const c = parseInt(digits.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return luminance > 0.179 ? "#111827" : "#ffffff"; // whichever contrasts more
  }

  function usableStorage(get) {
    try {
      const storage = get();
      storage.setItem("clinic-chat:probe", "1");
      storage.removeItem("clinic-chat:probe");
      return storage;
    } catch (_) {
      return null; // private mode, blocked cookies...: the chat still works, unsaved
    }
  }

  function newSenderId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  function el(tag, className, attributes) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function icon(paths) {
    const svgNs = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNs, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "cc-icon");
    for (const d of paths) {
      const path = document.createElementNS(svgNs, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    }
    return svg;
  }

  const ICONS = {
    chat: [
      "M3 5.5A2.5 2.5 0 0 1 5.5 3h13A2.5 2.5 0 0 1 21 5.5v9a2.5 2.5 0 0 1-2.5 2.5H10" +
        "l-4.5 4v-4A2.5 2.5 0 0 1 3 14.5z",
    ],
    close: ["M6 6l12 12", "M18 6L6 18"],
    send: ["M4 12l16-8-6 16-2.5-6.5z", "M11.5 13.5L20 4"],
    restart: ["M4 12a8 8 0 1 0 2.3-5.6", "M4 4v4.5h4.5"],
  };

  // ---- the transcript -----------------------------------------------------

  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons
      .filter((b) => b && typeof b.title === "string" && typeof b.payload === "string")
      .map((b) => ({ title: b.title, payload: b.payload }));
  }

  function cleanMessage(message) {
    if (!message || (message.who !== "user" && message.who !== "bot")) return null;
    const clean = { who: message.who, text: typeof message.text === "string" ? message.text : "" };
    if (message.who === "bot") {
      clean.buttons = cleanButtons(message.buttons);
      if (Number.isInteger(message.chosen)) clean.chosen = message.chosen;
    } else if (message.failed === true) {
      clean.failed = true;
    }
    return clean.text || (clean.buttons && clean.buttons.length) ? clean : null;
  }

  function freshState() {
    return { sender: newSenderId(), messages: [] };
  }

  function loadState() {
    let saved = null;
    try {
      saved = JSON.parse((store && store.getItem(STATE_KEY)) || "null");
    } catch (_) {
      saved = null;
    }
    if (!saved || typeof saved.sender !== "string" || !SENDER_ID.test(saved.sender)) {
      return freshState();
    }
    const messages = Array.isArray(saved.messages) ? saved.messages : [];
    return { sender: saved.sender, messages: messages.map(cleanMessage).filter(Boolean) };
  }

  function saveState() {
    try {
      if (store) store.setItem(STATE_KEY, JSON.stringify(state));
    } catch (_) {
      // storage full or blocked: the conversation simply isn't kept
    }
  }

  let state = loadState();
  saveState(); // keep a new sender id at once, so every tab uses the same one

  // ---- the user interface -------------------------------------------------

  const root = el("div", "cc-root", { "data-busy": "false" });
  root.style.setProperty("--cc-primary", config.primary);
  root.style.setProperty("--cc-on-primary", config.onPrimary);

  const panelId = `cc-panel-${Math.random().toString(36).slice(2, 8)}`;
  const launcher = el("button", "cc-launcher", {
    type: "button",
    "aria-expanded": "false",
    "aria-controls": panelId,
  });
  const launcherLabel = el("span", "cc-launcher-label");
  launcherLabel.textContent = "Chat with us";
  launcher.append(icon(ICONS.chat), launcherLabel);

  const panel = el("section", "cc-panel", {
    id: panelId,
    role: "dialog",
    "aria-modal": "false",
    "aria-labelledby": `${panelId}-title`,
    "aria-describedby": `${panelId}-note`,
  });
  panel.hidden = true;

  const header = el("header", "cc-header");
  const heading = el("div", "cc-heading");
  const title = el("h2", "cc-title", { id: `${panelId}-title` });
  title.textContent = config.clinicName;
  const note = el("p", "cc-note", { id: `${panelId}-note` });
  note.textContent = "Automated assistant — not medical advice";
  heading.append(title, note);
  const restartButton = el("button", "cc-header-button cc-restart", { type: "button" });
  const restartLabel = el("span");
  restartLabel.textContent = "Start over";
  restartButton.append(icon(ICONS.restart), restartLabel);
  const closeButton = el("button", "cc-header-button cc-close", {
    type: "button",
    "aria-label": "Close chat",
    title: "Close chat",
  });
  closeButton.append(icon(ICONS.close));
  header.append(heading, restartButton, closeButton);

  const body = el("div", "cc-body");
  const log = el("div", "cc-log", {
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
  });
  const typing = el("div", "cc-typing");
  typing.hidden = true;
  for (let i = 0; i < 3; i += 1) typing.append(el("span", "cc-dot", { "aria-hidden": "true" }));
  const typingText = el("span", "cc-sr-only");
  typingText.textContent = "The assistant is typing";
  typing.append(typingText);
  body.append(log, typing);

  const form = el("form", "cc-form", { novalidate: "" });
  const inputId = `${panelId}-input`;
  const label = el("label", "cc-sr-only", { for: inputId });
  label.textContent = "Message to the assistant";
  const input = el("textarea", "cc-input", {
    id: inputId,
    rows: "1",
    maxlength: String(MAX_MESSAGE_CHARS),
    placeholder: "Type your question…",
    autocomplete: "off",
    enterkeyhint: "send",
  });
  const sendButton = el("button", "cc-send", {
    type: "submit",
    "aria-label": "Send",
    title: "Send",
  });
  sendButton.append(icon(ICONS.send));
  form.append(label, input, sendButton);

  panel.append(header, body, form);
  root.append(panel, launcher);

  // ---- rendering ----------------------------------------------------------

  /** Text with its http(s) links made clickable; never parsed as HTML. */
  function appendText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(WEB_URL)) {
      const url = match[0].replace(TRAILING_PUNCTUATION, "");
      const href = webUrl(url);
      if (!href) continue;
      parent.append(document.createTextNode(text.slice(last, match.index)));
      const link = el("a", "cc-link", {
        href: new URL(href).href,
        target: "_blank",
        rel: "noopener noreferrer",
      });
      link.textContent = url;
      parent.append(link);
      last = match.index + url.length;
    }
    parent.append(document.createTextNode(text.slice(last)));
  }

  function renderMessage(message, index) {
    const row = el("div", `cc-msg cc-msg--${message.who}`);
    if (message.text) {
      const bubble = el("div", "cc-bubble");
      const who = el("span", "cc-sr-only");
      who.textContent = message.who === "user" ? "You said: " : "Assistant: ";
      const content = el("span", "cc-text");
      if (message.who === "bot") appendText(content, message.text);
      else content.textContent = message.text;
      bubble.append(who, content);
      row.append(bubble);
    }
    if (message.failed) {
      const failed = el("div", "cc-failed");
      failed.textContent = "Not sent";
      row.append(failed);
    }
    if (message.buttons && message.buttons.length) {
      const choices = el("div", "cc-choices", { role: "group", "aria-label": "Suggested replies" });
      message.buttons.forEach((button, choice) => {
        const node = el("button", "cc-choice", { type: "button" });
        node.textContent = button.title;
        if (message.chosen === choice) node.classList.add("cc-choice--chosen");
        node.addEventListener("click", () => choose(index, choice));
        choices.append(node);
      });
      row.append(choices);
    }
    return row;
  }

  /** Only the buttons after the patient's last (delivered) message can still be used. */
  function refreshChoices() {
    let lastUser = -1;
    state.messages.forEach((message, index) => {
      if (message.who === "user" && !message.failed) lastUser = index;
    });
    log.querySelectorAll(".cc-msg[data-index]").forEach((row) => {
      const index = Number(row.dataset.index);
      const message = state.messages[index];
      const used = index < lastUser || (message && Number.isInteger(message.chosen));
      row.querySelectorAll(".cc-choice").forEach((button) => {
        button.disabled = used;
      });
    });
  }

  function appendMessage(index) {
    const row = renderMessage(state.messages[index], index);
    row.dataset.index = String(index);
    log.append(row);
  }

  function renderAll() {
    log.replaceChildren();
    state.messages.forEach((_, index) => appendMessage(index));
    refreshChoices();
    scrollToEnd();
  }

  function showError() {
    const row = el("div", "cc-msg cc-msg--error");
    const bubble = el("div", "cc-bubble");
    bubble.textContent = ERROR_TEXT;
    row.append(bubble);
    log.append(row);
    scrollToEnd();
  }

  function scrollToEnd() {
    body.scrollTop = body.scrollHeight;
  }

  function addMessage(message) {
    state.messages.push(message);
    if (state.messages.length > MAX_STORED_MESSAGES) {
      // Only the most recent part of a very long conversation is kept.
      state.messages = state.messages.slice(-MAX_STORED_MESSAGES);
      saveState();
      renderAll();
      return message;
    }
    saveState();
    appendMessage(state.messages.length - 1);
    refreshChoices();
    scrollToEnd();
    return message;
  }

  // ---- talking to the assistant -------------------------------------------

  let queue = Promise.resolve(); // one request at a time keeps replies in order
  let generation = 0; // bumped by "Start over": late replies of the old conversation are dropped
  let pending = 0;

  function setBusy() {
    typing.hidden = pending === 0;
    root.dataset.busy = pending === 0 ? "false" : "true";
    scrollToEnd();
  }

  function newMessageId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  async function postOnce(sender, message, messageId, resend) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(`${config.serverUrl}/webhooks/rest/webhook`, {
        method: "POST",
        // X-Conversation-Id lets the clinic's proxy send a conversation to
        // the same server every time (deploy/nginx.conf.template).
        headers: { "Content-Type": "application/json", "X-Conversation-Id": sender },
        body: JSON.stringify({ sender, message, message_id: messageId, resend }),
        credentials: "omit",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch (error) {
      // No connection at all: nothing reached the assistant, so try again.
      // A timeout is not retried: the first attempt may still be running.
      error.retryable = error.name !== "AbortError";
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 429) {
      // Over the rate limit: nothing was processed; wait as asked, then send again.
      let body = {};
      try {
        body = await response.json();
      } catch (_) {
        body = {};
      }
      const error = new Error("Too many messages");
      const seconds = Number(body.retry_after) || Number(response.headers.get("Retry-After"));
      error.waitSeconds = Math.min(Math.max(Math.ceil(seconds) || 10, 1), 120);
      error.messages = Array.isArray(body.messages) ? body.messages : [];
      throw error;
    }
    if (!response.ok) {
      const error = new Error(`The assistant answered HTTP ${response.status}`);
      error.retryable = [502, 503, 504].includes(response.status);
      throw error;
    }
    const replies = await response.json();
    if (!Array.isArray(replies)) throw new Error("Unexpected reply from the assistant");
    return replies;
  }

  /**
   * One message, sent again after a gateway error with the same message_id:
   * the assistant answers a message it already processed from its record,
   * so a retry never files the patient's words (or a booking) twice.
   */
  async function post(sender, message, onWait) {
    const messageId = newMessageId();
    let waits = 0;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await postOnce(sender, message, messageId, attempt > 0);
      } catch (error) {
        if (error.waitSeconds && waits < MAX_RATE_LIMIT_WAITS) {
          // Told to slow down: say so (and anything the assistant said at once),
          // then send the same message again when the wait is over.
          waits += 1;
          onWait(error.messages, error.waitSeconds);
          await new Promise((resolve) => setTimeout(resolve, error.waitSeconds * 1000));
          continue;
        }
        if (!error.retryable || attempt >= RETRY_DELAYS_MS.length) throw error;
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
      }
    }
  }

  function markFailed(message) {
    message.failed = true;
    saveState();
    const row = log.querySelector(`.cc-msg[data-index="${state.messages.indexOf(message)}"]`);
    if (row && !row.querySelector(".cc-failed")) {
      const failed = el("div", "cc-failed");
      failed.textContent = "Not sent";
      row.append(failed);
    }
  }

  /**
   * Send `payload`; show `shown` as the patient's bubble (null: show nothing).
   * `choice` is the bot message whose button was clicked, if any.
   */
  function send(payload, shown, choice) {
    const mine = generation;
    const sender = state.sender;
    const bubble = shown === null ? null : addMessage({ who: "user", text: shown });
    pending += 1;
    setBusy();
    const showReplies = (replies) => {
      if (mine !== generation) return;
      for (const reply of replies) {
        const message = cleanMessage({
          who: "bot",
          text: reply && reply.text,
          buttons: reply && reply.buttons,
        });
        if (message) addMessage(message);
      }
    };
    const onWait = (replies, seconds) => {
      showReplies(replies);
      showReplies([{ text: `${WAIT_NOTE} ${seconds} seconds.` }]);
    };
    queue = queue
      .then(() => post(sender, payload, onWait))
      .then(
        showReplies,
        () => {
          if (mine !== generation) return;
          if (bubble) markFailed(bubble);
          if (choice) {
            // The buttons can be clicked again to retry.
            delete choice.chosen;
            saveState();
            const index = state.messages.indexOf(choice);
            log
              .querySelectorAll(`.cc-msg[data-index="${index}"] .cc-choice--chosen`)
              .forEach((node) => node.classList.remove("cc-choice--chosen"));
          } else if (bubble && !input.value.trim()) {
            // Sending again retries: the text goes back into the empty input.
            input.value = shown;
            resizeInput();
          }
          refreshChoices();
          showError();
        },
      )
      .finally(() => {
        if (mine !== generation) return;
        pending -= 1;
        setBusy();
      });
  }

  function choose(index, choice) {
    const message = state.messages[index];
    if (!message || !message.buttons || !message.buttons[choice]) return;
    message.chosen = choice;
    saveState();
    const row = log.querySelector(`.cc-msg[data-index="${index}"]`);
    const chosenButton = row && row.querySelectorAll(".cc-choice")[choice];
    if (chosenButton) chosenButton.classList.add("cc-choice--chosen");
    const { title: shown, payload } = message.buttons[choice];
    send(payload, shown, message);
    if (!phone.matches) input.focus(); // on a phone, don't pop up the keyboard
  }

  function startConversation() {
    if (config.initPayload && state.messages.length === 0 && pending === 0) {
      send(config.initPayload, null);
    }
  }

  function reset() {
    generation += 1;
    pending = 0;
    queue = Promise.resolve();
    state = freshState();
    saveState();
    input.value = "";
    resizeInput();
    renderAll();
    setBusy();
    if (!panel.hidden) {
      startConversation();
      input.focus();
    }
  }

  // ---- opening and closing ------------------------------------------------

  const phone = window.matchMedia("(max-width: 480px)");

  function open(focus = true) {
    panel.hidden = false;
    root.classList.add("cc-is-open");
    document.documentElement.classList.toggle("cc-chat-open", phone.matches);
    launcher.setAttribute("aria-expanded", "true");
    launcherLabel.textContent = "Close chat";
    launcher.replaceChild(icon(ICONS.close), launcher.firstChild);
    if (tabStore) tabStore.setItem(OPEN_KEY, "1");
    scrollToEnd();
    startConversation();
    if (focus) input.focus();
  }

  function close() {
    const hadFocus = panel.contains(document.activeElement);
    panel.hidden = true;
    root.classList.remove("cc-is-open");
    document.documentElement.classList.remove("cc-chat-open");
    launcher.setAttribute("aria-expanded", "false");
    launcherLabel.textContent = "Chat with us";
    launcher.replaceChild(icon(ICONS.chat), launcher.firstChild);
    if (tabStore) tabStore.removeItem(OPEN_KEY);
    if (hadFocus) launcher.focus();
  }

  function resizeInput() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 128)}px`;
  }

  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  closeButton.addEventListener("click", close);
  restartButton.addEventListener("click", reset);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("input", resizeInput);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    input.value = "";
    resizeInput();
    send(text, text);
    input.focus();
  });
  phone.addEventListener("change", () => {
    document.documentElement.classList.toggle("cc-chat-open", phone.matches && !panel.hidden);
  });

  // Another tab of the same site changed the conversation: show it here too.
  window.addEventListener("storage", (event) => {
    if (event.key !== STATE_KEY) return;
    const next = loadState();
    if (next.sender !== state.sender) {
      generation += 1;
      pending = 0;
      queue = Promise.resolve();
      setBusy();
    }
    state = next;
    renderAll();
  });

  // ---- start --------------------------------------------------------------

  function mount() {
    document.body.append(root);
    renderAll();
    if (tabStore && tabStore.getItem(OPEN_KEY) === "1") open(false);
  }

  function whenReady(callback) {
    if (document.body) callback();
    else document.addEventListener("DOMContentLoaded", callback, { once: true });
  }

  // The stylesheet next to this script; the widget appears once it is loaded.
  const cssHref = new URL("clinic-chat.css", script.src || window.location.href).href;
  let mounted = false;
  const mountOnce = () => {
    if (!mounted) {
      mounted = true;
      whenReady(mount);
    }
  };
  if ([...document.styleSheets].some((sheet) => sheet.href === cssHref)) {
    mountOnce();
  } else {
    const link = el("link", "", { rel: "stylesheet", href: cssHref });
    link.addEventListener("load", mountOnce);
    link.addEventListener("error", mountOnce);
    setTimeout(mountOnce, 4000);
    document.head.append(link);
  }

  window.ClinicChat = Object.freeze({ open: () => open(), close, reset });
})();
