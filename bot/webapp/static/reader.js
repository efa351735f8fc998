// The browser reader: a Telegram Desktop export (result.json + files) and the user's secret
// key(s) are read on this device only; every record is decrypted and verified with OpenPGP.js.
// The rules mirror services/crypto/reader.py (python -m bot.reader) and docs/reader.md:
// signature by a Libral server key (forged), the topic the record was signed for (moved), the
// chain of seq/prev (missing, reordered, duplicate, chain-broken), coalesced documents
// (libral-document/1: one signed and encrypted message, each record inside cleartext-signed on
// its own) and the signed head in the pinned panel (records cut off at the start or the end; a
// log moved here from another group starts at the head's `first`). Nothing is sent anywhere.
import * as openpgp from "./vendor/openpgp.min.mjs";
import { loadStrings, t } from "./webapp.js";

const $ = (id) => document.getElementById(id);
const GENESIS = "0".repeat(64);
const DOCUMENT_HEADER = "libral-document/1\n";
const SUPERGROUP_OFFSET = 1000000000000;
const ARMOR_RE = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/g;
const CLEARTEXT_RE = /-----BEGIN PGP SIGNED MESSAGE-----[\s\S]*?-----END PGP SIGNATURE-----/g;
const RECORD_FILE = /\.(asc|pgp|gpg)$/i;
// Findings that mean "not verified" (the CLI exits non-zero on these): all but a duplicate.
const SEVERE = new Set([
  "forged", "moved", "missing", "reordered", "chain-broken", "damaged", "malformed",
  "file-missing", "head-forged", "head-mismatch", "no-head", "no-records",
]);

class ReaderError extends Error {
  constructor(key, args = {}) {
    super(key);
    this.key = key;
    this.args = args;
  }
}

// ------------------------------------------------------------------ inputs

function textOf(message) {
  const entities = message.text_entities;
  if (Array.isArray(entities) && entities.length) {
    return entities.map((e) => (e && typeof e.text === "string" ? e.text : "")).join("");
  }
  const text = message.text;
  if (typeof text === "string") return text;
  if (Array.isArray(text)) return text.map((p) => (typeof p === "string" ? p : (p && p.text) || "")).join("");
  return "";
}

function exportChatId(exported) {
  const raw = exported.id;
  if (!Number.isInteger(raw)) return null;
  if (raw < 0) return raw;
  const kind = String(exported.type || "");
  if (kind.includes("supergroup") || kind.includes("channel")) return -(SUPERGROUP_OFFSET + raw);
  return -raw;
}

// [thread id, known?]: null thread is the General topic.
function threadOf(message, byId, topics) {
  if (Number.isInteger(message.message_thread_id)) return [message.message_thread_id, true];
  const seen = new Set();
  let target = message.reply_to_message_id;
  while (target !== undefined && target !== null && !seen.has(target)) {
    seen.add(target);
    if (topics.has(target)) return [target, true];
    const parent = byId.get(target);
    if (!parent) return [null, false];
    if (Number.isInteger(parent.message_thread_id)) return [parent.message_thread_id, true];
    target = parent.reply_to_message_id;
  }
  return [null, true];
}

// The chosen files by path inside the export (without its top folder) and by name.
function fileIndex(files) {
  const byPath = new Map();
  const byName = new Map();
  for (const file of files) {
    const rel = file.webkitRelativePath || file.name;
    const inner = rel.includes("/") ? rel.slice(rel.indexOf("/") + 1) : rel;
    byPath.set(inner, file);
    byName.set(file.name, file);
  }
  return {
    find(ref) {
      return byPath.get(ref) || byName.get(ref.split("/").pop()) || null;
    },
  };
}

async function readExport(files) {
  const resultFile = files.find((f) => f.name === "result.json");
  if (!resultFile) throw new ReaderError("webapp-reader-error-no-result");
  let exported;
  try {
    exported = JSON.parse(await resultFile.text());
  } catch {
    throw new ReaderError("webapp-reader-error-not-json");
  }
  if (!exported || !Array.isArray(exported.messages)) {
    throw new ReaderError("webapp-reader-error-not-json");
  }
  const index = fileIndex(files);
  const chatId = exportChatId(exported);
  const messages = exported.messages.filter((m) => m && typeof m === "object" && "id" in m);
  const byId = new Map(messages.map((m) => [m.id, m]));
  const topics = new Map(
    messages
      .filter((m) => m.type === "service" && m.action === "topic_created")
      .map((m) => [m.id, String(m.title || "")]),
  );
  const found = [];
  const findings = [];
  const heads = [];
  for (const msg of messages) {
    if (msg.type !== "message") continue;
    const [thread, known] = threadOf(msg, byId, topics);
    const ctx = chatId !== null && known ? { chat_id: chatId, thread_id: thread } : null;
    const topic = thread !== null ? topics.get(thread) || null : null;
    const text = textOf(msg);
    const blocks = text.match(ARMOR_RE) || [];
    for (const block of text.match(CLEARTEXT_RE) || []) heads.push({ source: `message ${msg.id}`, block });
    if (typeof msg.file === "string" && msg.file) {
      const file = msg.file.startsWith("(") ? null : index.find(msg.file);
      if (!file) {
        if (RECORD_FILE.test(String(msg.file_name || msg.file))) {
          findings.push({ kind: "file-missing", source: `message ${msg.id}`, seq: null, detail: String(msg.file_name || "") });
        }
      } else {
        blocks.push(...((await file.text()).match(ARMOR_RE) || []));
      }
    }
    blocks.forEach((block, n) => {
      const source = blocks.length === 1 ? `message ${msg.id}` : `message ${msg.id}.${n + 1}`;
      found.push({ source, armored: block, ctx, topic });
    });
  }
  return { title: String(exported.name || ""), chatId, found, findings, heads };
}

async function readSecretKeys(files, passphrase) {
  const keys = [];
  for (const file of files) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    let read;
    try {
      read = text.includes("-----BEGIN PGP")
        ? await openpgp.readPrivateKeys({ armoredKeys: text })
        : await openpgp.readPrivateKeys({ binaryKeys: bytes });
    } catch {
      throw new ReaderError("webapp-reader-error-key-file", { name: file.name });
    }
    for (const key of read) {
      if (key.isDecrypted()) {
        keys.push(key);
        continue;
      }
      try {
        keys.push(await openpgp.decryptKey({ privateKey: key, passphrase }));
      } catch {
        throw new ReaderError("webapp-reader-error-passphrase", { name: file.name });
      }
    }
  }
  if (!keys.length) throw new ReaderError("webapp-reader-error-no-key");
  return keys;
}

async function readPublicKeys(files) {
  const keys = [];
  for (const file of files) {
    try {
      keys.push(...(await openpgp.readKeys({ armoredKeys: await file.text() })));
    } catch {
      throw new ReaderError("webapp-reader-error-server-key", { name: file.name });
    }
  }
  return keys;
}

// ------------------------------------------------------------------ verification

async function sha256hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function anyValid(signatures) {
  for (const signature of signatures) {
    try {
      if (await signature.verified) return true;
    } catch {
      // not by a known server key, or not intact: try the next one
    }
  }
  return false;
}

function decodeRecord(bytes) {
  const doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  const ok =
    doc && doc.v === 1 && typeof doc.kind === "string" && Number.isInteger(doc.seq) &&
    typeof doc.prev === "string" && typeof doc.ts === "string" && doc.body && typeof doc.body === "object" &&
    doc.ctx && Number.isInteger(doc.ctx.chat_id) &&
    (doc.ctx.thread_id === null || Number.isInteger(doc.ctx.thread_id));
  if (!ok) throw new Error("malformed");
  return doc;
}

function sameCtx(a, b) {
  return a.chat_id === b.chat_id && (a.thread_id ?? null) === (b.thread_id ?? null);
}

async function checked(bytes, signed, item, source, result) {
  let record;
  try {
    record = decodeRecord(bytes);
  } catch {
    result.findings.push({ kind: "malformed", source, seq: null, detail: "" });
    result.entries.push({ source, item, record: null, error: "malformed" });
    return;
  }
  const problems = [];
  if (!signed) problems.push("forged");
  if (item.ctx && !sameCtx(item.ctx, record.ctx)) problems.push("moved");
  const entry = { source, item, record, digest: await sha256hex(bytes), problems };
  result.entries.push(entry);
  if (!signed) result.findings.push({ kind: "forged", source, seq: record.seq, detail: "" });
  if (problems.includes("moved")) {
    const detail = t("webapp-reader-signed-for", {
      chat: record.ctx.chat_id,
      topic: record.ctx.thread_id ?? "General",
    });
    result.findings.push({ kind: "moved", source, seq: record.seq, detail });
  }
}

async function openItem(item, keys, serverKeys, result) {
  let data;
  let signed;
  try {
    const message = await openpgp.readMessage({ armoredMessage: item.armored });
    const opened = await openpgp.decrypt({
      message,
      decryptionKeys: keys,
      verificationKeys: serverKeys,
      format: "binary",
    });
    data = opened.data;
    signed = await anyValid(opened.signatures);
  } catch (error) {
    const detail = String((error && error.message) || error);
    result.findings.push({ kind: "damaged", source: item.source, seq: null, detail });
    result.entries.push({ source: item.source, item, record: null, error: detail });
    return;
  }
  const header = new TextEncoder().encode(DOCUMENT_HEADER);
  const isDocument = data.length >= header.length && header.every((b, i) => data[i] === b);
  if (!isDocument) {
    await checked(data, signed, item, item.source, result);
    return;
  }
  // A coalesced document: each record is its own cleartext-signed block, checked like a single one.
  // The document itself is signed too: one that is not was not made by Libral.
  if (!signed) {
    result.findings.push({ kind: "forged", source: item.source, seq: null, detail: "" });
    result.entries.push({ source: item.source, item, record: null, error: "forged" });
    return;
  }
  const text = new TextDecoder().decode(data.subarray(header.length));
  const blocks = text.match(CLEARTEXT_RE) || [];
  for (const [n, block] of blocks.entries()) {
    const source = `${item.source} #${n + 1}`;
    let inner;
    let innerSigned;
    try {
      const message = await openpgp.readCleartextMessage({ cleartextMessage: block });
      const verified = await openpgp.verify({ message, verificationKeys: serverKeys });
      inner = new TextEncoder().encode(verified.data);
      innerSigned = await anyValid(verified.signatures);
    } catch (error) {
      const detail = String((error && error.message) || error);
      result.findings.push({ kind: "damaged", source, seq: null, detail });
      result.entries.push({ source, item, record: null, error: detail });
      continue;
    }
    await checked(inner, innerSigned, item, source, result);
  }
}

async function readHead(heads, serverKeys, chatId, result) {
  let newest = null;
  for (const { source, block } of heads) {
    let verified;
    let doc;
    try {
      const message = await openpgp.readCleartextMessage({ cleartextMessage: block });
      verified = await openpgp.verify({ message, verificationKeys: serverKeys });
      doc = JSON.parse(verified.data);
    } catch {
      continue; // not a head (or not readable as one)
    }
    if (!doc || doc.kind !== "head") continue;
    // `first`: the first seq this group received (absent: 0); a log moved here starts there.
    const first = doc.first === undefined ? 0 : doc.first;
    const ok =
      doc.v === 1 && Number.isInteger(doc.seq) && Number.isInteger(doc.chat_id) &&
      typeof doc.digest === "string" && doc.digest.length === 64 &&
      Number.isInteger(first) && first >= 0 && first <= doc.seq + 1;
    if (!ok || !(await anyValid(verified.signatures))) {
      result.findings.push({ kind: "head-forged", source, seq: ok ? doc.seq : null, detail: "" });
      continue;
    }
    if (chatId !== null && doc.chat_id !== chatId) {
      result.findings.push({ kind: "head-forged", source, seq: doc.seq, detail: String(doc.chat_id) });
      continue;
    }
    if (!newest || doc.seq >= newest.seq) newest = { ...doc, first, source };
  }
  return newest;
}

function chainFindings(entries, head) {
  const out = [];
  const authentic = entries.filter((e) => e.record && !e.problems.includes("forged"));
  let highest = null;
  for (const e of authentic) {
    const seq = e.record.seq;
    if (highest !== null && seq < highest) {
      out.push({ kind: "reordered", source: e.source, seq, detail: t("webapp-reader-after", { seq: highest }) });
    }
    highest = highest === null ? seq : Math.max(highest, seq);
  }
  const bySeq = new Map();
  for (const e of authentic) {
    if (bySeq.has(e.record.seq)) {
      out.push({ kind: "duplicate", source: e.source, seq: e.record.seq, detail: "" });
      continue;
    }
    bySeq.set(e.record.seq, e);
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const range = (a, b) => (a === b ? `${a}` : `${a}-${b}`);
  for (let i = 1; i < seqs.length; i++) {
    const [a, b] = [seqs[i - 1], seqs[i]];
    const later = bySeq.get(b);
    if (b !== a + 1) {
      out.push({ kind: "missing", source: later.source, seq: b, detail: range(a + 1, b - 1) });
    } else if (later.record.prev !== bySeq.get(a).digest) {
      out.push({ kind: "chain-broken", source: later.source, seq: b, detail: "" });
    }
  }
  if (head) {
    // Every record from the head's `first` up to its seq was delivered to this group: none may
    // be missing at either end.
    const inGroup = seqs.filter((seq) => seq >= head.first && seq <= head.seq);
    const lowest = inGroup.length ? inGroup[0] : null;
    const top = inGroup.length ? inGroup[inGroup.length - 1] : null;
    if (lowest === null) {
      out.push({ kind: "missing", source: head.source, seq: head.first, detail: range(head.first, head.seq) });
    } else {
      if (lowest > head.first) {
        out.push({
          kind: "missing", source: bySeq.get(lowest).source, seq: head.first, detail: range(head.first, lowest - 1),
        });
      } else if (lowest === 0 && bySeq.get(0).record.prev !== GENESIS) {
        out.push({ kind: "chain-broken", source: bySeq.get(0).source, seq: 0, detail: "" });
      }
      if (top < head.seq) {
        out.push({ kind: "missing", source: head.source, seq: head.seq, detail: range(top + 1, head.seq) });
      }
    }
    const atHead = bySeq.get(head.seq);
    if (atHead && atHead.digest !== head.digest) {
      out.push({ kind: "head-mismatch", source: atHead.source, seq: head.seq, detail: "" });
    }
  }
  return out;
}

export async function readAndVerify({ exportFiles, keyFiles, serverKeyFiles, passphrase }) {
  const exported = await readExport(exportFiles);
  const keys = await readSecretKeys(keyFiles, passphrase);
  // Libral's public server keys: chosen, or libral-server-*.asc inside the export.
  const bundled = exportFiles.filter((f) => /^libral-server-.*\.asc$/i.test(f.name));
  const serverKeys = await readPublicKeys([...serverKeyFiles, ...bundled]);
  if (!serverKeys.length) throw new ReaderError("webapp-reader-error-no-server-key");
  const result = { title: exported.title, entries: [], findings: [...exported.findings] };
  for (const item of exported.found) await openItem(item, keys, serverKeys, result);
  const head = await readHead(exported.heads, serverKeys, exported.chatId, result);
  result.head = head;
  if (!head) result.findings.push({ kind: "no-head", source: "", seq: null, detail: "" });
  result.findings.push(...chainFindings(result.entries, head));
  if (!exported.found.length) result.findings.push({ kind: "no-records", source: "", seq: null, detail: "" });
  return result;
}

// ------------------------------------------------------------------ rendering (text only)

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function render(result) {
  const verified = result.entries.filter((e) => e.record && !e.problems.length).length;
  $("summary").textContent = t("webapp-reader-summary", { verified, total: result.entries.length });
  const severe = result.findings.some((f) => SEVERE.has(f.kind));
  $("verdict").textContent = severe ? t("webapp-reader-not-verified") : t("webapp-reader-clean");
  $("verdict").className = severe ? "bad" : "ok";
  document.body.dataset.result = severe ? "problems" : "clean";
  const list = $("findings");
  list.replaceChildren();
  for (const f of result.findings) {
    const item = el("li", (SEVERE.has(f.kind) ? "❌ " : "⚠️ ") +
      t(`webapp-reader-finding-${f.kind}`, { source: f.source, seq: f.seq ?? "-", detail: f.detail || "" }));
    item.dataset.kind = f.kind;
    if (f.seq !== null && f.seq !== undefined) item.dataset.seq = String(f.seq);
    list.append(item);
  }
  const transcript = $("transcript");
  transcript.replaceChildren();
  for (const e of result.entries) {
    const box = el("div", undefined, "record " + (e.record && !e.problems.length ? "ok" : "bad"));
    const where = e.item.topic || (e.item.ctx ? t("webapp-reader-general") : "");
    box.append(el("h3", e.source + (where ? ` · ${where}` : "")));
    if (!e.record) {
      box.append(el("p", t("webapp-reader-unreadable", { detail: e.error || "" }), "bad"));
    } else {
      const status = e.problems.length ? "❌ " + e.problems.join(", ") : "✅";
      box.append(el("p", `#${e.record.seq} · ${e.record.ts} · ${e.record.kind} · ${status}`, "mono"));
      for (const [key, value] of Object.entries(e.record.body)) {
        const shown = typeof value === "string" ? value : JSON.stringify(value);
        const line = el("pre");
        line.append(el("b", key + ": "), document.createTextNode(shown));
        box.append(line);
      }
    }
    box.dataset.seq = e.record ? String(e.record.seq) : "";
    transcript.append(box);
  }
  $("report").hidden = false;
}

async function run() {
  const status = $("status");
  status.textContent = t("webapp-reader-reading");
  status.className = "muted";
  $("report").hidden = true;
  delete document.body.dataset.result;
  try {
    const result = await readAndVerify({
      exportFiles: [...$("export").files, ...$("export-files").files],
      keyFiles: [...$("keys").files],
      serverKeyFiles: [...$("server-keys").files],
      passphrase: $("passphrase").value,
    });
    render(result);
    status.textContent = "";
  } catch (error) {
    status.textContent = error instanceof ReaderError ? t(error.key, error.args) : String(error);
    status.className = "bad";
    document.body.dataset.result = "error";
  }
}

async function main() {
  await loadStrings();
  $("read").onclick = run;
}

main().finally(() => {
  document.body.dataset.ready = "1";
});
