// Shared by every Mini App page: initData, the API, the page strings.
// Telegram passes initData in the URL fragment (#tgWebAppData=…); its own script exposes it as
// Telegram.WebApp.initData. We do not load Telegram's script (pages work offline from our
// server), so the fragment is the usual source. The fragment never reaches any server.

export function initData() {
  const tg = globalThis.Telegram && globalThis.Telegram.WebApp;
  if (tg && tg.initData) return tg.initData;
  const hash = new URLSearchParams(location.hash.slice(1));
  return hash.get("tgWebAppData") || "";
}

export class ApiError extends Error {
  constructor(status, code) {
    super(code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

// A JSON request to /app/api/<path>, authenticated with initData.
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: "tma " + initData() };
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(new URL("api/" + path, appBase()), init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data && data.error);
  return data;
}

function appBase() {
  // Pages live at /app/<page>; the API at /app/api/…, the strings at /app/strings/….
  return new URL("./", location.href);
}

let strings = {};
export let locale = "en";

// Load the page strings: the user's language from the bot when opened in Telegram, else the
// browser's language.
export async function loadStrings({ signedIn = true } = {}) {
  let chosen = null;
  if (signedIn && initData()) {
    try {
      chosen = (await api("session")).locale;
    } catch {
      chosen = null;
    }
  }
  if (!chosen) {
    const wanted = (navigator.languages || [navigator.language || "ja"]).map((l) =>
      l.toLowerCase().split("-")[0],
    );
    chosen = wanted.find((l) => l === "ja" || l === "en") || "ja";
  }
  const response = await fetch(new URL(`strings/${chosen}.json`, appBase()), { cache: "no-cache" });
  strings = await response.json();
  locale = chosen;
  document.documentElement.lang = chosen;
  applyStrings(document);
  return chosen;
}

// The string `key` with {name} placeholders filled in.
export function t(key, args = {}) {
  const text = strings[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in args ? String(args[name]) : whole));
}

// Elements with data-i18n="key" get that string as text (data-i18n-placeholder: placeholder).
export function applyStrings(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

// The message for an API failure, by refusal reason.
export function errorText(error) {
  if (error instanceof ApiError && error.status === 403) {
    return t(`webapp-refused-${error.code || "invalid"}`);
  }
  if (error instanceof ApiError && error.code) {
    const key = `webapp-error-${error.code}`;
    if (key in strings) return t(key);
  }
  return t("webapp-error-network");
}
