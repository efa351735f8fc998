// The operators' dashboard: figures from /app/api/dashboard/snapshot, charts by Chart.js, live
// traffic from the Server-Sent Events stream /app/api/dashboard/events. The stream is read with
// fetch (not EventSource) so that initData goes in the Authorization header as on every route.
// Looking only: actions stay in the chat panel ("open the panel" asks the bot to post it).
import { ApiError, api, errorText, initData, loadStrings, locale, t } from "./webapp.js";

const $ = (id) => document.getElementById(id);
const state = { window: "24h", snapshot: null, live: 0, charts: {}, refetch: null, busy: false };

const RESULT_KEYS = {
  ok: "webapp-dashboard-result-ok",
  denied: "webapp-dashboard-result-denied",
  failed: "webapp-dashboard-result-failed",
};
const CIRCUIT_KEYS = {
  closed: "webapp-dashboard-circuit-closed",
  open: "webapp-dashboard-circuit-open",
  half_open: "webapp-dashboard-circuit-half-open",
};
const HEALTH_KEYS = {
  ok: "webapp-dashboard-health-ok",
  down: "webapp-dashboard-health-down",
  "not configured": "webapp-dashboard-health-off",
};

function number(value) {
  return new Intl.NumberFormat(locale).format(value);
}

function time(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale, {
    timeZone: "UTC",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).format(new Date(iso));
}

function bucketLabel(iso, hourly) {
  const options = hourly
    ? { timeZone: "UTC", hour: "2-digit", minute: "2-digit" }
    : { timeZone: "UTC", month: "2-digit", day: "2-digit" };
  return new Intl.DateTimeFormat(locale, options).format(new Date(iso));
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return t("webapp-dashboard-seconds", { n: seconds });
  if (seconds < 3600) return t("webapp-dashboard-minutes", { n: Math.floor(seconds / 60) });
  return t("webapp-dashboard-hours", { n: Math.floor(seconds / 3600) });
}

function setFigure(el, value) {
  el.dataset.value = String(value);
  el.textContent = number(value);
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function table(id, rows, fill, emptyKey = "webapp-dashboard-none") {
  const body = $(id);
  body.replaceChildren();
  if (!rows || rows.length === 0) {
    const row = body.insertRow();
    const td = cell(row, t(emptyKey), "muted");
    td.colSpan = 5;
    return;
  }
  for (const item of rows) fill(body.insertRow(), item);
}

function chart(id, config) {
  if (state.charts[id]) {
    const existing = state.charts[id];
    existing.data = config.data;
    existing.update("none");
    return;
  }
  state.charts[id] = new globalThis.Chart($(id), {
    ...config,
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      ...config.options,
    },
  });
}

function render(snap) {
  state.snapshot = snap;
  const hourly = snap.window === "24h";
  for (const el of document.querySelectorAll("[data-figure]")) {
    const [group, name] = el.dataset.figure.split(".");
    setFigure(el, snap[group][name]);
  }
  $("fig-queue-age").textContent = duration(snap.queue.oldest_seconds);
  for (const part of ["database", "redis"]) {
    const value = snap.health[part] || "down";
    const el = $("health-" + part);
    el.dataset.value = value;
    el.textContent = t(HEALTH_KEYS[value] || HEALTH_KEYS.down);
    el.className = value === "ok" ? "good" : value === "down" ? "bad" : "muted";
  }
  table("providers", (snap.providers || []).filter((p) => p.configured), (row, p) => {
    row.dataset.provider = p.name;
    cell(row, p.name);
    cell(row, t(CIRCUIT_KEYS[p.state] || CIRCUIT_KEYS.open), p.state === "closed" ? "good" : "bad");
    cell(row, p.error_rate === null ? "—" : `${(p.error_rate * 100).toFixed(1)}%`);
    cell(row, number(p.requests));
  });
  table("jobs", snap.jobs, (row, j) => {
    row.dataset.job = j.name;
    cell(row, j.name);
    cell(row, time(j.last_started));
    cell(row, time(j.last_ok));
    cell(row, j.last_error_type ? `${number(j.failures)} (${j.last_error_type})` : number(j.failures),
      j.last_error_type ? "bad" : "");
    cell(row, time(j.next_run));
  });
  const counts = snap.audit.counts;
  $("audit-counts").textContent = t("webapp-dashboard-audit-counts", {
    ok: number(counts.ok || 0),
    denied: number(counts.denied || 0),
    failed: number(counts.failed || 0),
  });
  table("audit", snap.audit.recent, (row, e) => {
    cell(row, time(e.at));
    cell(row, e.action);
    cell(row, t(RESULT_KEYS[e.result] || RESULT_KEYS.failed), e.result === "ok" ? "" : "bad");
  });

  const labels = snap.series.buckets.map((b) => bucketLabel(b, hourly));
  const users = [
    { type: "bar", label: t("webapp-dashboard-new-users"), data: snap.series.new_users,
      backgroundColor: "rgba(36, 129, 204, 0.45)" },
  ];
  if (snap.series.active_users) {
    users.push({ type: "line", label: t("webapp-dashboard-active"), data: snap.series.active_users,
      borderColor: "#1b7f3b", backgroundColor: "#1b7f3b", tension: 0.2 });
  }
  chart("chart-users", { data: { labels, datasets: users },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  chart("chart-usage", {
    data: {
      labels,
      datasets: [
        { type: "bar", label: t("webapp-dashboard-messages"), data: snap.series.messages,
          backgroundColor: "rgba(138, 90, 0, 0.45)", yAxisID: "y" },
        { type: "line", label: t("webapp-dashboard-tokens"), data: snap.series.tokens,
          borderColor: "#6b4bd1", backgroundColor: "#6b4bd1", yAxisID: "y1", tension: 0.2 },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 } },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } },
      },
    },
  });
  chart("chart-stars", {
    data: { labels, datasets: [{ type: "bar", label: t("webapp-dashboard-stars"),
      data: snap.series.stars, backgroundColor: "rgba(240, 160, 48, 0.6)" }] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  for (const button of document.querySelectorAll("[data-window]")) {
    button.classList.toggle("active", button.dataset.window === snap.window);
  }
  $("generated").textContent = t("webapp-dashboard-generated", { time: time(snap.generated_at) });
  document.body.dataset.window = snap.window;
  document.body.dataset.generated = snap.generated_at;
}

async function refresh() {
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  try {
    render(await api(`dashboard/snapshot?window=${state.window}`));
    $("status").hidden = true;
    $("content").hidden = false;
  } catch (error) {
    showError(error);
  } finally {
    state.busy = false;
    if (state.again) {
      state.again = false;
      refresh();
    }
  }
}

function showError(error) {
  $("status").hidden = false;
  $("status").textContent = errorText(error);
  $("status").className = "bad";
  if (error instanceof ApiError && error.status === 403) {
    $("content").hidden = true;
    document.body.dataset.refused = error.code || "forbidden";
  }
}

function setLive(kind) {
  const el = $("live");
  el.dataset.state = kind;
  el.className = "live " + (kind === "on" ? "on" : "off");
  el.textContent = t(
    { on: "webapp-dashboard-live-on", off: "webapp-dashboard-live-off",
      connecting: "webapp-dashboard-live-connecting", expired: "webapp-dashboard-live-expired" }[kind],
  );
}

function onEvent(kind, data) {
  if (kind === "ready") {
    setLive("on");
  } else if (kind === "traffic") {
    state.live += data.updates || 0;
    const el = $("live-updates");
    el.dataset.value = String(state.live);
    el.textContent = number(state.live);
    // Figures follow the traffic, at most one refetch a second.
    if (!state.refetch) {
      state.refetch = setTimeout(() => {
        state.refetch = null;
        refresh();
      }, 1000);
    }
  } else if (kind === "expired" || kind === "refused") {
    return "stop";
  }
  return null;
}

// Server-Sent Events over fetch: "event: <kind>\ndata: <json>\n\n" frames, ": comment" lines.
async function stream() {
  let delay = 1000;
  for (;;) {
    setLive("connecting");
    let stop = null;
    try {
      const response = await fetch(new URL("api/dashboard/events", location.href), {
        headers: { Authorization: "tma " + initData(), Accept: "text/event-stream" },
        credentials: "omit",
        cache: "no-store",
      });
      if (response.status === 403) {
        const body = await response.json().catch(() => ({}));
        showError(new ApiError(403, body.error));
        setLive("expired");
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      while (!stop) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let kind = "message";
          const data = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith("event:")) kind = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trim());
          }
          if (data.length === 0) continue;
          stop = onEvent(kind, JSON.parse(data.join("\n"))) || stop;
        }
      }
    } catch {
      // Network trouble or a restarting server: try again shortly.
    }
    if (stop) {
      setLive("expired");
      $("status").hidden = false;
      $("status").textContent = t("webapp-dashboard-reopen");
      return;
    }
    setLive("off");
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

async function openPanel() {
  const status = $("panel-status");
  try {
    await api("dashboard/panel", { method: "POST", body: {} });
    status.textContent = t("webapp-dashboard-panel-sent");
    const tg = globalThis.Telegram && globalThis.Telegram.WebApp;
    if (tg && tg.close) tg.close();
  } catch (error) {
    status.textContent = errorText(error);
  }
}

await loadStrings();
setLive("connecting");
for (const button of document.querySelectorAll("[data-window]")) {
  button.addEventListener("click", () => {
    state.window = button.dataset.window;
    refresh();
  });
}
$("open-panel").addEventListener("click", openPanel);
await refresh();
if (!document.body.dataset.refused) stream();
document.body.dataset.ready = "1";
