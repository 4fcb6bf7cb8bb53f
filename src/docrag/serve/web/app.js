// The web page of `docrag serve`: knowledge bases, uploads with job progress, documents and their chunks, and
// questions answered with clickable citations. No dependencies and no build step. Text from the server is only
// ever put in the page as text (textContent, text nodes), never as HTML.
"use strict";

const STRINGS = {
  en: {
    kb: "Knowledge base", newKbName: "new knowledge base", kbSettings: 'settings (JSON, optional)', create: "Create",
    settings: "Settings", documents: "Documents", dropHere: "Drop files here or click to choose",
    name: "Name", status: "Status", type: "Type", pages: "Pages", size: "Size", noDocs: "No documents yet.",
    ask: "Ask", askButton: "Ask", newChat: "New conversation", questionHint: "Ask a question about your documents…",
    close: "Close", mode: "Retrieval mode", k: "Passages (k)", llm: "LLM", rerank: "Rerank", default: "default",
    on: "on", off: "off", apiKey: "API key", save: "Save",
    keyNote: "Stored in this browser only; sent as Authorization: Bearer.",
    chunks: "Chunks", reingest: "Re-ingest", delete: "Delete", confirmDelete: "Delete {0}?",
    job: { ingest: "Ingest", delete: "Delete" }, stage: "stage", noKb: "Create a knowledge base first.",
    state: { queued: "queued", running: "running", done: "done", failed: "failed", added: "added",
             updated: "updated", unchanged: "unchanged", skipped: "skipped", removed: "removed",
             indexed: "indexed", processing: "processing", "not indexed": "not indexed" },
    page: "page {0}", references: "References", related: "Related passages (not sources of an answer)", searchedAs: "Searched as: {0}", passage: "Passage",
    notFoundOnPage: "The quote was not found on the page image; the passage is below.", thinking: "Thinking…",
    chunkHead: "#{0} · {1}", answerFailed: "No answer: {0}",
  },
  zh: {
    kb: "知识库", newKbName: "新知识库名称", kbSettings: "设置（JSON，可选）", create: "创建",
    settings: "设置", documents: "文档", dropHere: "把文件拖到这里，或点击选择",
    name: "名称", status: "状态", type: "类型", pages: "页数", size: "大小", noDocs: "还没有文档。",
    ask: "提问", askButton: "提问", newChat: "新对话", questionHint: "就你的文档提一个问题……",
    close: "关闭", mode: "检索模式", k: "段落数 (k)", llm: "大模型", rerank: "重排序", default: "默认",
    on: "开", off: "关", apiKey: "API 密钥", save: "保存",
    keyNote: "只保存在本浏览器中，以 Authorization: Bearer 发送。",
    chunks: "分块", reingest: "重新导入", delete: "删除", confirmDelete: "删除 {0}？",
    job: { ingest: "导入", delete: "删除" }, stage: "阶段", noKb: "请先创建一个知识库。",
    state: { queued: "排队中", running: "进行中", done: "完成", failed: "失败", added: "已添加",
             updated: "已更新", unchanged: "未变", skipped: "已跳过", removed: "已删除",
             indexed: "已索引", processing: "处理中", "not indexed": "未索引" },
    page: "第 {0} 页", references: "引用", related: "相关段落（并非答案出处）", searchedAs: "检索问题：{0}", passage: "段落",
    notFoundOnPage: "在页面图像上没有找到引文；段落见下方。", thinking: "思考中……",
    chunkHead: "#{0} · {1}", answerFailed: "没有回答：{0}",
  },
};
const FILE_OK = new Set(["added", "updated", "unchanged", "removed"]);
const SCALE = 1.5;  // page images: pixels per PDF point
const QUOTE_CHARS = 500;  // of a quote looked for on its page (it goes in the URL)

const $ = (sel) => document.querySelector(sel);
const S = {
  lang: localStorage.getItem("docrag.lang") || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en"),
  kb: localStorage.getItem("docrag.kb") || "",
  history: [],  // the conversation's earlier questions, oldest first
  settings: JSON.parse(localStorage.getItem("docrag.settings") || "{}"),
  urls: [],  // object URLs of the viewer's images, released when it closes
};

function t(key, ...args) {
  let s = key.split(".").reduce((o, k) => (o == null ? o : o[k]), STRINGS[S.lang]);
  if (s == null) s = key.split(".").pop();
  return s.replace(/\{(\d)\}/g, (_, i) => args[i]);
}

// el("div", {class: "x", onclick: f}, "text", child): an element; strings become text nodes
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c) => c != null).map((c) => (typeof c === "string" || typeof c === "number" ? String(c) : c)));
  return e;
}
const enc = encodeURIComponent;

function applyLang() {
  document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll("[data-i18n-placeholder]")) e.placeholder = t(e.dataset.i18nPlaceholder);
  $("#lang-toggle").textContent = S.lang === "zh" ? "English" : "中文";
}

// --- talking to the server -------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path, { json, ...opts } = {}) {
  const headers = new Headers(opts.headers || {});
  const key = localStorage.getItem("docrag.key");
  if (key) headers.set("Authorization", "Bearer " + key);
  if (json !== undefined) {
    headers.set("Content-Type", "application/json");
    opts.body = JSON.stringify(json);
  }
  const res = await fetch(path, { ...opts, headers });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error.message || message; } catch { /* not JSON: the status says it */ }
    throw new ApiError(message, res.status);
  }
  return res;
}
const getJson = async (path, opts) => (await api(path, opts)).json();

// Server-Sent Events from a fetch response (EventSource cannot send an Authorization header)
async function* events(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        const colon = line.indexOf(":");
        if (colon === 0) continue;  // a comment (keep-alive)
        const field = colon < 0 ? line : line.slice(0, colon);
        const v = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = v;
        else if (field === "data") data.push(v);
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

function showError(e) {
  console.error(e);
  $("#error-text").textContent = e.message || String(e);
  $("#error").hidden = false;
  if (e.status === 401 || e.status === 403) openSettings(e.message);
}
// runs an async handler, showing what goes wrong
const guarded = (f) => (...args) => f(...args).catch(showError);

// --- knowledge bases -------------------------------------------------------------------------------------------
async function loadKbs() {
  const { knowledge_bases: kbs } = await getJson("kb");
  const select = $("#kb-select");
  select.replaceChildren(...kbs.map((kb) => el("option", { value: kb.name }, kb.name)));
  if (!kbs.some((kb) => kb.name === S.kb)) S.kb = kbs.length ? kbs[0].name : "";
  select.value = S.kb;
  await selectKb(S.kb);
}

async function selectKb(name) {
  S.kb = name;
  localStorage.setItem("docrag.kb", name);
  S.history = [];
  $("#conversation").replaceChildren();
  $("#jobs").replaceChildren();
  await loadDocs();
  if (!name) return;
  const { jobs } = await getJson(`kb/${enc(name)}/jobs`);
  for (const job of jobs.filter((j) => j.state === "queued" || j.state === "running")) followJob(job).catch(showError);
}

async function createKb(ev) {
  ev.preventDefault();
  const raw = $("#kb-settings").value.trim();
  let settings = {};
  if (raw) {
    try { settings = JSON.parse(raw); } catch (e) { throw new Error(`settings: ${e.message}`); }
  }
  const kb = await getJson("kb", { method: "POST", json: { name: $("#kb-name").value.trim(), settings } });
  $("#kb-form").reset();
  S.kb = kb.name;
  await loadKbs();
}

// --- documents and jobs ----------------------------------------------------------------------------------------
function humanSize(n) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

async function loadDocs() {
  const body = $("#doc-table tbody");
  const docs = S.kb ? (await getJson(`kb/${enc(S.kb)}/documents`)).documents : [];
  body.replaceChildren(...docs.map((d) => el("tr", { "data-name": d.name },
    el("td", {}, el("button", { class: "link", title: t("chunks"), onclick: guarded(() => openChunks(d.name)) }, d.name)),
    el("td", {}, el("span", { class: `badge ${d.status.replace(" ", "-")}`, title: d.reason || null },
      t(`state.${d.status}`)), d.reason ? el("div", { class: "reason" }, d.reason) : null),
    el("td", {}, d.type || ""), el("td", {}, d.pages ?? ""), el("td", {}, humanSize(d.bytes)),
    el("td", { class: "actions" },
      el("button", { class: "link", onclick: guarded(() => openChunks(d.name)) }, t("chunks")),
      el("button", { class: "link", onclick: guarded(() => documentJob(d.name, "POST", "/reingest")) }, t("reingest")),
      el("button", { class: "link danger", onclick: guarded(() => confirm(t("confirmDelete", d.name))
        ? documentJob(d.name, "DELETE", "") : Promise.resolve()) }, t("delete"))))));
  $("#no-docs").hidden = docs.length > 0;
}

async function documentJob(name, method, suffix) {
  const job = await getJson(`kb/${enc(S.kb)}/documents/${enc(name)}${suffix}`, { method });
  await followJob(job);
}

async function upload(files) {
  if (!files.length) return;
  if (!S.kb) throw new Error(t("noKb"));
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  await followJob(await getJson(`kb/${enc(S.kb)}/documents`, { method: "POST", body: form }));
}

function renderJob(card, job) {
  const running = job.state === "running" || job.state === "queued";
  const share = job.total ? job.done / job.total : 0;
  card.dataset.state = job.state;
  card.job = job;  // drawn again when the language changes
  card.replaceChildren(...[
    el("div", { class: "job-head" },
      el("strong", {}, t(`job.${job.kind}`)), ` · ${t(`state.${job.state}`)}`,
      job.stage ? ` · ${t("stage")} ${job.stage} ${job.done}/${job.total}` : "",
      running ? null : el("button", { class: "link close", onclick: () => card.remove() }, "×")),
    el("progress", { class: "stage", max: 1, value: job.state === "done" ? 1 : share }),
    job.error ? el("div", { class: "reason" }, job.error) : null,
    ...job.files.map((f) => {
      const state = f.state === "queued" && running ? "running" : f.state;
      return el("div", { class: `file ${FILE_OK.has(f.state) ? "ok" : f.state}`, "data-name": f.name, "data-state": f.state },
        el("span", { class: "file-name" }, f.name),
        el("span", { class: "bar" }, el("span", { style: `width: ${f.state === "queued" ? 0 : 100}%` })),
        el("span", { class: "file-state" }, t(`state.${state}`) + (f.chunks ? ` · ${f.chunks}` : "")),
        f.reason ? el("div", { class: "reason" }, f.reason) : null);
    })].filter(Boolean));
}

async function followJob(job) {
  const card = el("div", { class: "job", "data-job": job.id });
  $("#jobs").prepend(card);
  renderJob(card, job);
  if (job.state === "queued" || job.state === "running") {
    loadDocs().catch(showError);
    for await (const { event, data } of events(await api(`jobs/${enc(job.id)}/events`))) {
      if (event === "job") renderJob(card, (job = data));
    }
  }
  await loadDocs();
  return job;
}

async function openChunks(name) {
  const { chunks } = await getJson(`kb/${enc(S.kb)}/documents/${enc(name)}/chunks`);
  openViewer(name, chunks.map((c) => el("div", { class: "chunk" },
    el("div", { class: "muted" }, t("chunkHead", c.ordinal, c.kind), c.page ? ` · ${t("page", c.page)}` : "",
      c.section.length ? ` · ${c.section.join(" › ")}` : ""),
    el("div", { class: "passage" }, c.text))));
}

// --- asking ----------------------------------------------------------------------------------------------------
function askBody(question) {
  const s = S.settings;
  const body = { question, history: S.history.slice(), stream: true };
  if (s.mode) body.mode = s.mode;
  if (s.k) body.k = Number(s.k);
  if (s.llm) body.llm = s.llm;
  if (s.rerank) body.rerank = s.rerank === "on";
  return body;
}

async function ask(ev) {
  ev.preventDefault();
  const question = $("#question").value.trim();
  if (!question) return;
  if (!S.kb) throw new Error(t("noKb"));
  const kb = S.kb;
  const answer = el("div", { class: "answer streaming" }, t("thinking"));
  const turn = el("div", { class: "turn" }, el("div", { class: "question" }, question), answer);
  $("#conversation").append(turn);
  turn.scrollIntoView({ block: "end" });
  $("#question").value = "";
  $("#ask-button").disabled = true;
  let text = "";
  try {
    const res = await api(`kb/${enc(kb)}/ask`, { method: "POST", json: askBody(question) });
    for await (const { event, data } of events(res)) {
      if (event === "token") {
        text += data.text;
        answer.textContent = text;
      } else if (event === "done") {
        renderAnswer(turn, answer, data, kb, question);
      } else if (event === "error") {
        throw new ApiError(data.error.message, data.error.code);
      }
    }
    S.history.push(question);
  } catch (e) {
    answer.classList.add("failed");
    answer.textContent = t("answerFailed", e.message);
    throw e;
  } finally {
    answer.classList.remove("streaming");
    $("#ask-button").disabled = false;
  }
}

function chip(ref, kb) {
  return el("button", { class: "chip", "data-number": ref.number, title: `${ref.document}${ref.page ? " · " + t("page", ref.page) : ""}`,
    onclick: guarded(() => openCitation(ref, kb)) }, `[${ref.number}]`);
}

function renderAnswer(turn, answer, data, kb, question) {
  const byNumber = new Map(data.references.map((r) => [String(r.number), r]));
  answer.replaceChildren(...data.answer.split(/(\[\d+\])/).map((part) => {
    const ref = /^\[(\d+)\]$/.test(part) && byNumber.get(part.slice(1, -1));
    return ref ? chip(ref, kb) : part;
  }));
  if (data.standalone_question && data.standalone_question !== question) {
    turn.append(el("div", { class: "muted standalone" }, t("searchedAs", data.standalone_question)));
  }
  for (const note of data.notes || []) turn.append(el("div", { class: "muted note" }, note));
  for (const [heading, list] of [[t("references"), data.references], [t("related"), data.related || []]]) {
    if (!list.length) continue;
    turn.append(el("div", { class: "muted" }, heading), el("ol", { class: "refs" }, ...list.map((r) => el("li", {},
      chip(r, kb), " ", r.document, r.page ? ` · ${t("page", r.page)}` : "", el("span", { class: "muted" }, ` “${r.quote}”`)))));
  }
}

// --- the viewer: cited pages with highlights, passages, chunks ------------------------------------------------
function openViewer(title, children) {
  $("#viewer-title").textContent = title;
  $("#viewer-body").replaceChildren(...children);
  if (!$("#viewer").open) $("#viewer").showModal();
}

async function openCitation(ref, kb) {
  const pages = [...new Set(ref.positions.map((p) => p.page).filter(Boolean))];
  if (!pages.length && ref.page) pages.push(ref.page);
  const pdf = /\.pdf$/i.test(ref.document);
  const boxed = ref.positions.some((p) => p.box);
  openViewer(`[${ref.number}] ${ref.document}${ref.page ? " · " + t("page", ref.page) : ""}`, []);
  const body = $("#viewer-body");
  if (pdf) {
    for (const page of pages.slice(0, 3)) {
      let boxes = ref.positions.filter((p) => p.page === page && p.box).map((p) => p.box);
      if (!boxed && ref.quote) {  // the index kept no boxes for this passage: find the quote on the page
        boxes = (await getJson(`kb/${enc(kb)}/documents/${enc(ref.document)}/pages/${page}/boxes?text=${enc(ref.quote.slice(0, QUOTE_CHARS))}`)).boxes;
      }
      body.append(await pageView(kb, ref.document, page, boxes));
      if (!boxes.length) body.append(el("p", { class: "muted" }, t("notFoundOnPage")));
    }
  }
  if (!pdf || !boxed) {
    const text = ref.chunk_id != null ? (await getJson(`kb/${enc(kb)}/chunks/${ref.chunk_id}`)).text : ref.quote;
    body.append(el("h4", {}, t("passage")), el("div", { class: "passage" }, ...marked(text, ref.quote)));
  }
  body.querySelector("mark, .highlight")?.scrollIntoView({ block: "center" });
}

async function pageView(kb, name, page, boxes) {
  const blob = await (await api(`kb/${enc(kb)}/documents/${enc(name)}/pages/${page}.png?scale=${SCALE}`)).blob();
  const url = URL.createObjectURL(blob);
  S.urls.push(url);
  const img = el("img", { alt: t("page", page) });
  await new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error(`page ${page}: the image did not load`));
    img.src = url;
  });
  // boxes are PDF points from the top left: x SCALE = pixels of the image, as a share of it so they follow its size
  const w = img.naturalWidth, h = img.naturalHeight;
  return el("div", { class: "page", "data-page": page }, img, ...boxes.map(([x0, top, x1, bottom]) => el("div", {
    class: "highlight",
    style: `left:${(x0 * SCALE / w) * 100}%;top:${(top * SCALE / h) * 100}%;` +
      `width:${((x1 - x0) * SCALE / w) * 100}%;height:${((bottom - top) * SCALE / h) * 100}%`,
  })));
}

// the text with the quote in <mark>s: a quote may join passages with "…", and white space may differ
function marked(text, quote) {
  const out = [];
  let from = 0;
  for (const piece of (quote || "").split(/…|\.\.\./)) {
    const chars = [...piece.replace(/\s+/g, "")];
    if (!chars.length) continue;
    const pattern = new RegExp(chars.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\s*"), "g");
    pattern.lastIndex = from;
    const m = pattern.exec(text);
    if (!m) continue;
    out.push(text.slice(from, m.index), el("mark", {}, m[0]));
    from = m.index + m[0].length;
  }
  out.push(text.slice(from));
  return out;
}

// --- settings --------------------------------------------------------------------------------------------------
async function openSettings(message) {
  const s = S.settings;
  $("#set-mode").value = s.mode || "";
  $("#set-k").value = s.k || "";
  $("#set-rerank").value = s.rerank || "";
  $("#set-key").value = localStorage.getItem("docrag.key") || "";
  $("#key-note").textContent = message || t("keyNote");
  $("#key-note").classList.toggle("error-text", Boolean(message));
  const llm = $("#set-llm");
  llm.replaceChildren(el("option", { value: "" }, t("default")), el("option", { value: "extractive" }, "extractive"));
  if (!$("#settings").open) $("#settings").showModal();
  if (message) return $("#set-key").focus();
  try {
    const { data } = await getJson("v1/models");
    const offered = data.map((m) => m.id).filter((id) => id.startsWith(S.kb + ":")).map((id) => id.slice(S.kb.length + 1));
    llm.append(...offered.map((name) => el("option", { value: name }, name)));
  } catch (e) { showError(e); }
  llm.value = s.llm || "";
}

function saveSettings() {
  S.settings = { mode: $("#set-mode").value, k: $("#set-k").value, llm: $("#set-llm").value, rerank: $("#set-rerank").value };
  localStorage.setItem("docrag.settings", JSON.stringify(S.settings));
  const key = $("#set-key").value.trim();
  if (key === (localStorage.getItem("docrag.key") || "")) return;
  if (key) localStorage.setItem("docrag.key", key);
  else localStorage.removeItem("docrag.key");
  $("#error").hidden = true;
  loadKbs().catch(showError);  // what the new key may see
}

// --- wiring ----------------------------------------------------------------------------------------------------
function start() {
  applyLang();
  $("#lang-toggle").addEventListener("click", () => {
    S.lang = S.lang === "zh" ? "en" : "zh";
    localStorage.setItem("docrag.lang", S.lang);
    applyLang();
    for (const card of document.querySelectorAll(".job")) renderJob(card, card.job);
    loadDocs().catch(showError);
  });
  $("#error-close").addEventListener("click", () => { $("#error").hidden = true; });
  $("#kb-select").addEventListener("change", guarded((e) => selectKb(e.target.value)));
  $("#kb-form").addEventListener("submit", guarded(createKb));
  $("#ask-form").addEventListener("submit", guarded(ask));
  $("#question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("#ask-form").requestSubmit(); }
  });
  $("#new-chat").addEventListener("click", () => { S.history = []; $("#conversation").replaceChildren(); });
  $("#settings-open").addEventListener("click", guarded(() => openSettings()));
  $("#settings-form").addEventListener("submit", saveSettings);
  $("#viewer .close").addEventListener("click", () => $("#viewer").close());
  $("#viewer").addEventListener("close", () => { S.urls.forEach(URL.revokeObjectURL); S.urls = []; });
  const input = $("#file-input"), drop = $("#drop");
  input.addEventListener("change", guarded(async () => { const files = [...input.files]; input.value = ""; await upload(files); }));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", guarded(async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    await upload([...e.dataTransfer.files]);
  }));
  loadKbs().catch(showError);
}

start();
