// The question page: plain JS, no build step. Data only ever enters the DOM as text
// (textContent, append of strings), never as HTML.
"use strict";

const KEY_STORE = "rag.apiKey";
const $ = (id) => document.getElementById(id);
const documents = new Map(); // doc_id -> {doc_id, title, text, sections}
let controller = null; // aborts the answer being streamed when a new question is asked
let retryAfterKey = false; // ask again once a key has been entered
let opener = null; // focus goes back here when the viewer closes

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children); // strings become text nodes
  return node;
}

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

const setStatus = (text) => { $("status").textContent = text; };
const showError = (text) => { $("error").textContent = text; };

// fetch() with the stored key; an HTTP error becomes an ApiError carrying the body's detail.
async function request(path, options = {}) {
  const headers = { ...options.headers };
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`无法连接服务（${error.message}）。请检查网络或服务是否在运行。`, 0);
  }
  if (response.ok) return response;
  let detail = response.statusText || "请求失败";
  try {
    const body = await response.json();
    if (body.detail) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    // not JSON: keep the status text
  }
  if (response.status === 401) showKeyForm();
  throw new ApiError(`服务返回错误 ${response.status}：${detail}`, response.status);
}

// Server-sent events from a fetch() body (EventSource cannot POST): yields {event, data}.
async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += value.replace(/\r/g, "");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon === 0) continue; // a comment
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
    if (done) return;
  }
}

function showKeyForm() {
  $("key-form").hidden = false;
  $("api-key").focus();
}

async function loadDocuments() {
  try {
    const body = await (await request("/v1/documents")).json();
    $("documents").replaceChildren(
      ...body.documents.map((doc) =>
        el("li", {},
          el("button", { type: "button", class: "doc", onclick: (e) => openDocument(doc.doc_id, null, e.currentTarget) },
            el("span", { class: "doc-title" }, doc.title),
            el("span", { class: "doc-meta" }, `${doc.source} · ${doc.chars} 字`))),
      ),
    );
  } catch (error) {
    showError(`文章列表加载失败。${error.message}`);
  }
}

async function ask() {
  const question = $("question").value.trim();
  if (!question) return;
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const answer = $("answer");
  retryAfterKey = false;
  showError("");
  answer.replaceChildren();
  answer.setAttribute("aria-busy", "true");
  $("sources-box").hidden = true;
  $("result").hidden = false;
  setStatus("正在检索资料…");
  const started = performance.now();
  try {
    const response = await request("/v1/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, stream: true }),
      signal,
    });
    const live = el("p", { class: "streaming" });
    answer.append(live);
    let finished = false;
    for await (const { event, data } of sseEvents(response.body)) {
      if (event === "passages") {
        setStatus(`找到 ${data.passages.length} 段相关材料，正在生成回答…`);
      } else if (event === "delta") {
        live.append(data.text);
      } else if (event === "answer") {
        renderAnswer(data);
        const ms = performance.now() - started;
        setStatus(`回答完成，用时 ${ms < 1000 ? `${Math.round(ms)} 毫秒` : `${(ms / 1000).toFixed(1)} 秒`}。`);
        finished = true;
      } else if (event === "error") {
        live.classList.add("broken");
        throw new ApiError(`回答失败（${data.status}）：${data.detail}`, data.status);
      }
    }
    if (!finished) throw new ApiError("回答中断：连接在回答完成前关闭了。", 0);
  } catch (error) {
    if (signal.aborted) return;
    if (error.status === 401) retryAfterKey = true;
    if (!answer.textContent) $("result").hidden = true; // nothing came before the failure
    showError(error instanceof ApiError ? error.message : `回答中断（${error.message}）。`);
    setStatus("");
  } finally {
    if (!signal.aborted) answer.setAttribute("aria-busy", "false");
  }
}

function renderAnswer(data) {
  const answer = $("answer");
  if (!data.answerable) {
    answer.replaceChildren(el("div", { class: "notice" }, el("strong", {}, "无法回答"), el("p", {}, data.answer)));
    return;
  }
  const cited = new Map(data.citations.map((c) => [c.n, c]));
  const text = el("p");
  data.answer.split(/\[(\d+)\]/).forEach((part, i) => {
    const citation = i % 2 ? cited.get(Number(part)) : null;
    if (citation) text.append(citeButton(citation, `[${citation.n}]`, "cite"));
    else if (part) text.append(i % 2 ? `[${part}]` : part);
  });
  answer.replaceChildren(text);
  if (data.fallback) {
    answer.prepend(el("p", { class: "hint" }, "语言模型不可用，以下为抽取式备用回答。"));
  }
  $("sources").replaceChildren(
    ...data.citations.map((c) =>
      el("li", {},
        citeButton(c, el("span", { class: "source-title" }, `[${c.n}] ${c.title}${c.section ? ` › ${c.section}` : ""}${pageLabel(c)}`), "source"),
        el("p", { class: "source-text" }, c.text.length > 90 ? `${c.text.slice(0, 90)}…` : c.text))),
  );
  $("sources-box").hidden = data.citations.length === 0;
}

// " · 第2页" for a citation into a PDF (its page), "" for other formats.
function pageLabel(citation) {
  return citation.page == null ? "" : ` · 第${citation.page}页`;
}

function citeButton(citation, label, kind) {
  return el("button", {
    type: "button",
    class: kind,
    title: `${citation.title}${citation.section ? ` › ${citation.section}` : ""}`,
    "aria-label": `[${citation.n}] 查看出处：${citation.title}`,
    onclick: (e) => openDocument(citation.doc_id, citation, e.currentTarget),
  }, label);
}

async function openDocument(docId, citation, trigger) {
  opener = trigger;
  let doc = documents.get(docId);
  try {
    if (!doc) {
      doc = await (await request(`/v1/documents/${encodeURIComponent(docId)}`)).json();
      documents.set(docId, doc);
    }
  } catch (error) {
    showError(`原文加载失败。${error.message}`);
    return;
  }
  renderArticle(doc, citation);
  const viewer = $("viewer");
  $("viewer-empty").hidden = true;
  $("article").hidden = false;
  viewer.classList.add("open");
  document.body.classList.add("viewer-open");
  $("viewer-title").focus({ preventScroll: true });
  const mark = viewer.querySelector("mark");
  const offset = mark ? mark.getBoundingClientRect().top - viewer.getBoundingClientRect().top : 0;
  viewer.scrollTop = mark ? viewer.scrollTop + offset - viewer.clientHeight / 3 : 0;
}

function renderArticle(doc, citation) {
  $("viewer-title").textContent = doc.title;
  const where = citation?.section ? ` · ${citation.section}` : "";
  $("article-meta").textContent = citation
    ? `引用 [${citation.n}]${where}${pageLabel(citation)} · ${doc.source}`
    : doc.source;
  const range = citation ? [citation.start, citation.end] : null;
  const sections = doc.sections.length ? doc.sections : [{ title: "", start: 0, end: doc.text.length }];
  const parts = [];
  for (const section of sections) {
    if (section.title && section.title !== doc.title) parts.push(el("h3", {}, section.title));
    let start = section.start;
    for (const line of doc.text.slice(section.start, section.end).split("\n")) {
      parts.push(paragraph(doc.text, start, start + line.length, range));
      start += line.length + 1;
    }
  }
  $("article-body").replaceChildren(...parts);
}

// One line of the text as a <p>, the part inside `range` wrapped in <mark>.
function paragraph(text, start, end, range) {
  if (!range || range[1] <= start || range[0] >= end) return el("p", {}, text.slice(start, end));
  const from = Math.max(start, range[0]);
  const to = Math.min(end, range[1]);
  return el("p", {}, text.slice(start, from), el("mark", {}, text.slice(from, to)), text.slice(to, end));
}

const UPLOADED = { added: "已添加", replaced: "已替换", unchanged: "内容未变" };
const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Upload a file (202: a job), then poll the job, showing its progress, until it ends.
async function upload() {
  const file = $("upload-file").files[0];
  if (!file) return;
  const status = $("upload-status");
  const bar = $("upload-progress");
  const form = new FormData();
  form.append("file", file);
  $("upload-button").disabled = true;
  showError("");
  status.textContent = `正在上传 ${file.name}…`;
  try {
    let job = await (await request("/v1/documents", { method: "POST", body: form })).json();
    bar.value = 0;
    bar.hidden = false;
    while (job.state === "queued" || job.state === "running") {
      const { done, total } = job.progress;
      bar.max = Math.max(total, 1);
      bar.value = done;
      status.textContent = job.state === "queued" ? "排队等待编入索引…" : `正在编入索引：已嵌入 ${done} / ${total} 段`;
      await pause(400);
      job = await (await request(`/v1/jobs/${encodeURIComponent(job.id)}`)).json();
    }
    if (job.state === "failed") throw new ApiError(`编入索引失败：${job.error}`, 0);
    const { result } = job;
    const chunks = result.documents.reduce((sum, doc) => sum + doc.chunks, 0);
    bar.value = bar.max;
    status.textContent = `${UPLOADED[result.status]} ${result.source}：${result.documents.length} 篇文章，${chunks} 段。`;
    $("upload-file").value = "";
    loadDocuments();
  } catch (error) {
    bar.hidden = true;
    status.textContent = "";
    showError(error instanceof ApiError ? error.message : `上传中断（${error.message}）。`);
  } finally {
    $("upload-button").disabled = false;
  }
}

function closeViewer() {
  const viewer = $("viewer");
  if (!viewer.classList.contains("open")) return;
  viewer.classList.remove("open");
  document.body.classList.remove("viewer-open");
  $("article").hidden = true;
  $("viewer-empty").hidden = false;
  if (opener?.isConnected) opener.focus();
}

$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  ask();
});
$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  upload();
});
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
  $("api-key").value = "";
  $("key-form").hidden = true;
  showError("");
  loadDocuments();
  if (retryAfterKey) ask();
});
$("viewer-close").addEventListener("click", closeViewer);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeViewer();
});
loadDocuments();
