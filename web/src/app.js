// kubesim's page: the lesson (left) and the terminal (right), joined to the session's cluster by
// one websocket. Binary frames carry the terminal's bytes; text frames carry JSON control
// messages (hello, resize, lesson actions, progress).
import { Terminal } from "./vendor/xterm.mjs";
import { FitAddon } from "./vendor/addon-fit.mjs";
import { marked } from "./vendor/marked.esm.js";

const $ = (sel, el = document) => el.querySelector(sel);
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "html") el.innerHTML = v;
    else el.setAttribute(k, v);
  }
  for (const kid of kids) if (kid != null) el.append(kid);
  return el;
};
const md = (text) => marked.parse(text || "");

// --- terminal ---
const term = new Terminal({
  cursorBlink: true,
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
  fontSize: 14,
  scrollback: 5000,
  theme: { background: "#000000" },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open($("#terminal"));
// Copy and paste as in terminal emulators: Ctrl+Shift+C / Ctrl+Shift+V (Ctrl+C stays ^C).
term.attachCustomKeyEventHandler((e) => {
  if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
  if (e.code === "KeyC" && term.hasSelection()) {
    navigator.clipboard?.writeText(term.getSelection());
    return false;
  }
  if (e.code === "KeyV") {
    navigator.clipboard?.readText().then((t) => term.paste(t));
    return false;
  }
  return true;
});
term.focus();

let ws = null;
let received = 0; // terminal bytes received: a reconnect resumes from here
let retry = 0;
let ended = false;
const enc = new TextEncoder();
const connEl = $("#conn");
const setConn = (text, cls) => { connEl.textContent = text; connEl.className = "conn " + cls; };

function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}
function sendSize() {
  fit.fit();
  send({ type: "resize", cols: term.cols, rows: term.rows });
}
term.onData((d) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
new ResizeObserver(() => sendSize()).observe($("#terminal"));
window.addEventListener("resize", sendSize);

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${proto}//${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    retry = 0;
    setConn("connected", "up");
    ws.send(JSON.stringify({ type: "hello", offset: received, lesson: lessonID }));
    sendSize();
  };
  ws.onmessage = (ev) => {
    if (ev.data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(ev.data);
      received += bytes.length;
      term.write(bytes);
      return;
    }
    const m = JSON.parse(ev.data);
    if (m.type === "progress") showProgress(m);
    else if (m.type === "error") console.warn("kubesim:", m.message);
  };
  ws.onclose = (ev) => {
    if (ev.code === 1001 || ev.code === 1008) {
      ended = true;
      setConn("session ended", "down");
      term.write(`\r\n\x1b[33m[${ev.reason || "session ended"}: reload the page to start again]\x1b[0m\r\n`);
      return;
    }
    if (ev.code === 1006 && received === 0 && retry > 3) {
      setConn("no session", "down");
    } else {
      setConn("reconnecting…", "down");
    }
    const delay = Math.min(5000, 250 * 2 ** retry++);
    setTimeout(() => { if (!ended) connect(); }, delay);
  };
}

// --- lesson ---
const params = new URLSearchParams(location.search);
let lessonID = params.get("lesson") || "";
let lesson = null;
let state = null;
const answers = {}; // step index → chosen choice (before checking)
const opened = new Set();

async function loadLesson() {
  if (!lessonID) {
    const list = await (await fetch("api/lessons")).json();
    if (!list || !list.length) return;
    lessonID = list[0].id;
  }
  lesson = await (await fetch(`api/lessons/${encodeURIComponent(lessonID)}`)).json();
  document.title = `${lesson.title} · kubesim`;
  $("#lesson-title").textContent = lesson.title;
  render();
}

function currentStep() {
  if (!state) return 0;
  const i = state.steps.findIndex((s) => !s.done);
  return i < 0 ? state.steps.length : i;
}

function render() {
  if (!lesson) return;
  const root = $("#lesson");
  const scroll = root.scrollTop;
  root.replaceChildren();
  root.append(h("h1", {}, lesson.title));
  root.append(h("div", { class: "intro", html: md(lesson.intro) }));
  const cur = currentStep();
  lesson.steps.forEach((step, i) => root.append(renderStep(step, i, i === cur)));
  if (state && state.done === state.total && lesson.outro) {
    root.append(h("div", { class: "outro", html: "<h2>Well done</h2>" + md(lesson.outro) }));
  }
  root.scrollTop = scroll;
  // A step's setup runs when it becomes current.
  if (state && cur < lesson.steps.length && lesson.steps[cur].hasSetup && !opened.has(cur)) {
    opened.add(cur);
    send({ type: "lesson", action: "open", step: cur });
  }
}

function renderStep(step, i, current) {
  const st = state ? state.steps[i] : null;
  const done = st && st.done;
  const el = h("div", { class: `step${done ? " done" : ""}${current ? " current" : ""}`, id: `step-${step.id}`, "data-step": i });
  el.append(h("h2", {}, h("span", { class: "mark" }, done ? "✔" : String(i + 1)), step.title));
  if (step.text) el.append(h("div", { html: md(step.text) }));
  if (st && st.setup === "running") el.append(h("p", { class: "status" }, "Setting up the cluster…"));
  if (st && st.setupError) el.append(h("p", { class: "status failed" }, "Setup failed: " + st.setupError));
  if (st && st.checks && st.checks.length) {
    el.append(h("ul", { class: "checks" }, ...st.checks.map((c) => h("li", { class: c.ok ? "ok" : "" }, c.title))));
  }
  if (step.quiz) el.append(renderQuiz(step, i, st));
  if (step.hints && step.hints.length) {
    const shown = st ? st.hints : 0;
    for (let k = 0; k < shown; k++) el.append(h("div", { class: "hint", html: md(step.hints[k]) }));
    if (shown < step.hints.length && !done) {
      el.append(h("button", { class: "hint-button", onclick: () => send({ type: "lesson", action: "hint", step: i }) },
        shown ? "Another hint" : "Show a hint"));
    }
  }
  return el;
}

function renderQuiz(step, i, st) {
  const q = step.quiz;
  const qs = st && st.quiz;
  const el = h("div", { class: "quiz" });
  el.append(h("div", { class: "question", html: md(q.question) }));
  const settled = qs && (qs.correct || qs.revealed);
  q.choices.forEach((c, k) => {
    const input = h("input", { type: "radio", name: `quiz-${i}`, value: String(k) });
    const chosen = answers[i] ?? (qs && qs.choice >= 0 ? qs.choice : undefined);
    if (chosen === k) input.checked = true;
    if (settled) input.disabled = true;
    input.addEventListener("change", () => { answers[i] = k; });
    el.append(h("label", { class: "choice" }, input, " ", c));
  });
  if (!settled) {
    el.append(h("button", { class: "primary check-answer", onclick: () => {
      if (answers[i] === undefined) return;
      send({ type: "lesson", action: "answer", step: i, choice: answers[i] });
    } }, "Check answer"), " ",
    h("button", { class: "reveal", onclick: () => send({ type: "lesson", action: "reveal", step: i }) }, "Reveal answer"));
    if (qs && qs.choice >= 0 && !qs.correct) el.append(h("p", { class: "feedback wrong" }, "Not quite. Think about which policy applies, or try it in the cluster."));
  } else {
    el.append(h("p", { class: "feedback right" }, qs.correct ? "Right." : `The answer: ${q.choices[qs.answer]}`));
    el.append(h("div", { class: "explanation", html: md(qs.explanation) }));
  }
  if (q.tryIt) {
    const t = h("div", { class: "tryit" });
    const status = qs ? qs.tryIt : "";
    if (!status || status === "failed") {
      t.append(h("button", { class: "try-it", onclick: () => send({ type: "lesson", action: "tryit", step: i }) }, "Try it in your cluster"));
      if (qs && qs.tryItError) t.append(h("p", { class: "status failed" }, "Setup failed: " + qs.tryItError));
    } else if (status === "running") {
      t.append(h("p", { class: "status" }, "Setting up the experiment in your cluster…"));
    } else {
      t.append(h("div", { html: md(q.tryIt) }));
      if (qs.tryItChecks) t.append(h("ul", { class: "checks" }, ...qs.tryItChecks.map((c) => h("li", { class: c.ok ? "ok" : "" }, c.title))));
    }
    el.append(t);
  }
  return el;
}

function showProgress(m) {
  if (!m.steps) return;
  state = m;
  $("#progress-text").textContent = `${m.done}/${m.total} steps`;
  $("#progress-bar").style.width = `${(100 * m.done) / m.total}%`;
  render();
}

window.kubesim = { term, get ws() { return ws; }, get state() { return state; },
  // The screen's text, a line the terminal wrapped joined back into one.
  screen: () => {
    const b = term.buffer.active; const out = [];
    for (let y = 0; y < b.length; y++) {
      const line = b.getLine(y);
      if (line.isWrapped && out.length) out[out.length - 1] += line.translateToString(true);
      else out.push(line.translateToString(true));
    }
    return out.join("\n");
  } };

loadLesson().then(connect, (e) => { console.error(e); connect(); });
