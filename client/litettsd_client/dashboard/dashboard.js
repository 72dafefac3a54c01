// litettsd dashboard. Polls the gateway once a second (/api/status and /api/metrics, the
// daemon's own replies), keeps two minutes of history and draws it on plain canvas: the
// machine this runs on may have no internet, so there is no chart library to load.
"use strict";

const HISTORY = 120; // samples kept per series: two minutes at one poll a second
const POLL_MS = 1000;
const VOICES_EVERY_MS = 30000; // the voice list changes only on reload
const COLORS = ["#2563eb", "#d97706", "#059669"];

const $ = (id) => document.getElementById(id);

const history = {
  rate: [[]],
  latency: [[], [], []],
  rtf: [[]],
  queue: [[]],
  cpu: [[]],
  rss: [[]],
};
let previous = null; // {at, syntheses} of the last poll, for the rate
let voiceCounts = {};
let loadedVoices = [];

function push(series, value) {
  series.push(value);
  if (series.length > HISTORY) series.shift();
}

function text(id, value) {
  $(id).textContent = value;
}

function fmtMs(seconds) {
  return seconds === null || seconds === undefined ? "–" : `${(seconds * 1000).toFixed(seconds < 0.01 ? 1 : 0)}`;
}

function fmtNumber(value, digits = 2) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function fmtDuration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

// Draw one line per series, y from 0 to a rounded-up maximum, with the maximum and the
// latest values written on the chart. The latest values also go into data- attributes so
// scripts and tests can read what the chart shows.
function drawChart(canvas, seriesList, labels, digits) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const style = getComputedStyle(document.body);
  const muted = style.getPropertyValue("--muted") || "#888";
  const line = style.getPropertyValue("--line") || "#ddd";

  const values = seriesList.flat().filter((v) => v !== null && Number.isFinite(v));
  const top = niceMax(values.length ? Math.max(...values) : 0);
  const left = 44, right = 8, upper = 8, lower = 18;
  const plotW = width - left - right, plotH = height - upper - lower;

  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = muted;
  ctx.strokeStyle = line;
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = upper + plotH - (plotH * i) / 4;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(width - right, y);
    ctx.stroke();
    ctx.fillText(formatAxis((top * i) / 4), 2, y + 4);
  }
  ctx.fillText(`−${HISTORY}s`, left, height - 4);
  ctx.fillText("now", width - right - 22, height - 4);

  seriesList.forEach((series, index) => {
    ctx.strokeStyle = COLORS[index % COLORS.length];
    ctx.lineWidth = 1.8;
    ctx.beginPath();
    let drawing = false;
    series.forEach((value, i) => {
      if (value === null || !Number.isFinite(value)) {
        drawing = false;
        return;
      }
      const x = left + (plotW * (HISTORY - series.length + i)) / (HISTORY - 1);
      const y = upper + plotH - (top ? (plotH * value) / top : 0);
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
    });
    ctx.stroke();
  });

  const latest = seriesList.map((series) => (series.length ? series[series.length - 1] : null));
  let x = left + 4;
  latest.forEach((value, index) => {
    ctx.fillStyle = COLORS[index % COLORS.length];
    const caption = `${labels[index] ? labels[index] + " " : ""}${value === null ? "–" : value.toFixed(digits)}`;
    ctx.fillText(caption, x, upper + 11);
    x += ctx.measureText(caption).width + 12;
  });
  canvas.dataset.latest = JSON.stringify(latest);
  canvas.dataset.max = String(values.length ? Math.max(...values) : 0);
  canvas.dataset.points = String(Math.max(...seriesList.map((s) => s.length)));
}

function niceMax(value) {
  if (value <= 0) return 1;
  const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

function formatAxis(value) {
  return value >= 100 ? value.toFixed(0) : String(Number(value.toFixed(2)));
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText);
  return body;
}

function syntheses(metrics) {
  // Every synthesize and char request, whatever its outcome: the load on the daemon.
  let total = 0;
  for (const op of ["synthesize", "char"]) {
    for (const count of Object.values(metrics.requests.by_op[op] || {})) total += count;
  }
  return total;
}

async function poll() {
  let status, reply;
  try {
    [status, reply] = await Promise.all([getJson("/api/status"), getJson("/api/metrics")]);
  } catch (error) {
    $("link").className = "badge down";
    text("link", "daemon unreachable");
    text("daemon", String(error.message || error));
    return;
  }
  $("link").className = "badge ok";
  text("link", "live");
  text("daemon", `litettsd ${status.version} · pid ${status.pid} · up ${fmtDuration(status.uptime)} · ${status.socket}`);
  showConfig(status);
  loadedVoices = status.voices_loaded || [];

  const metrics = (reply.plugins || {}).metrics;
  const notice = $("notice");
  if (!metrics) {
    notice.hidden = false;
    notice.textContent = "The daemon runs no `metrics` plugin, so only its status is shown.";
    text("tile-queue", `${status.queue.waiting} / ${status.requests_in_flight}`);
    return;
  }
  notice.hidden = true;

  const now = performance.now();
  const total = syntheses(metrics);
  const rate = previous ? (Math.max(0, total - previous.syntheses) * 1000) / (now - previous.at) : null;
  previous = { at: now, syntheses: total };

  const first = metrics.histograms.first_audio_seconds;
  const rtf = metrics.histograms.real_time_factor;
  const cache = metrics.cache;
  const process = metrics.process;
  const errors = Object.values(metrics.requests.errors).reduce((a, b) => a + b, 0);

  push(history.rate[0], rate);
  push(history.latency[0], first.p50 === null ? null : first.p50 * 1000);
  push(history.latency[1], first.p90 === null ? null : first.p90 * 1000);
  push(history.latency[2], first.p99 === null ? null : first.p99 * 1000);
  push(history.rtf[0], rtf.p50);
  push(history.queue[0], metrics.queue.waiting);
  push(history.cpu[0], process.cpu_percent);
  push(history.rss[0], process.rss_bytes / 1048576);

  text("tile-rate", rate === null ? "–" : rate.toFixed(2));
  text("tile-syntheses", String(metrics.synthesis.completed));
  text("tile-latency", `${fmtMs(first.p50)} / ${fmtMs(first.p90)} / ${fmtMs(first.p99)}`);
  text("tile-rtf", fmtNumber(rtf.p50, 3));
  text("tile-queue", `${metrics.queue.waiting} / ${metrics.requests_in_flight}`);
  text("tile-cache", cache.hit_ratio === null ? "–" : `${(cache.hit_ratio * 100).toFixed(0)} %`);
  text("tile-cpu", `${process.cpu_percent.toFixed(1)} %`);
  text("tile-rss", `${(process.rss_bytes / 1048576).toFixed(0)} MB`);
  text("tile-errors", String(errors));

  drawChart($("chart-rate"), history.rate, [""], 2);
  drawChart($("chart-latency"), history.latency, ["p50", "p90", "p99"], 0);
  drawChart($("chart-rtf"), history.rtf, ["p50"], 3);
  drawChart($("chart-queue"), history.queue, [""], 0);
  drawChart($("chart-cpu"), history.cpu, [""], 1);
  drawChart($("chart-rss"), history.rss, [""], 0);

  voiceCounts = metrics.synthesis.by_voice;
  updateVoiceRows();
  showErrors(metrics.recent_errors, metrics.plugin_errors);
}

function showErrors(recent, pluginErrors) {
  const body = $("errors");
  body.replaceChildren();
  for (const error of [...recent].reverse()) {
    const row = body.insertRow();
    row.insertCell().textContent = new Date(error.at * 1000).toLocaleTimeString();
    row.insertCell().textContent = error.op;
    row.insertCell().textContent = error.code;
    row.insertCell().textContent = error.voice || "";
  }
  const entries = Object.entries(pluginErrors);
  text("plugin-errors", entries.length ? entries.map(([name, n]) => `${name} ×${n}`).join(", ") : "none");
}

function showConfig(status) {
  const list = $("config-files");
  list.replaceChildren();
  for (const file of status.config_files || []) {
    const item = document.createElement("li");
    item.textContent = file;
    list.appendChild(item);
  }
  const reload = status.last_reload;
  text(
    "reload",
    reload
      ? `Last reload ${new Date(reload.at * 1000).toLocaleString()}: ${reload.ok ? "applied" : "rejected — " + reload.error}`
      : "Not reloaded since start (later files win; env LITETTSD_* and flags override all)."
  );
  text("plugins", (status.plugins || []).map((p) => p.name).join(", "));
}

let voiceRows = [];

async function loadVoices() {
  let data;
  try {
    data = await getJson("/v1/audio/voices");
  } catch (error) {
    return; // the status poll already says the daemon is unreachable
  }
  voiceRows = data.voices;
  updateVoiceRows();
  text("aliases", Object.entries(data.aliases).map(([name, voice]) => `${name} → ${voice}`).join(", "));

  const select = $("try-voice");
  const chosen = select.value || data.default_voice;
  select.replaceChildren();
  const own = document.createElement("optgroup");
  own.label = "litettsd voices";
  for (const voice of data.voices) own.appendChild(new Option(voice.id, voice.id));
  const openai = document.createElement("optgroup");
  openai.label = "OpenAI names";
  for (const [name, voice] of Object.entries(data.aliases)) openai.appendChild(new Option(`${name} (${voice})`, name));
  select.append(own, openai);
  select.value = chosen;
}

function updateVoiceRows() {
  const body = $("voices");
  body.replaceChildren();
  for (const voice of voiceRows) {
    const row = body.insertRow();
    row.insertCell().textContent = voice.id;
    row.insertCell().textContent = voice.language;
    const rate = row.insertCell();
    rate.textContent = voice.sample_rate;
    rate.className = "num";
    row.insertCell().textContent = loadedVoices.includes(voice.id) ? "●" : "";
    const count = row.insertCell();
    count.textContent = voiceCounts[voice.id] || 0;
    count.className = "num";
  }
}

// Try it: the same POST /v1/audio/speech any OpenAI client sends. The body is read as a
// stream only to time its first bytes; playback starts once it is whole.
async function speak(event) {
  event.preventDefault();
  const button = $("try-button");
  const result = $("try-result");
  button.disabled = true;
  result.textContent = "speaking…";
  const started = performance.now();
  try {
    const response = await fetch("/v1/audio/speech", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        model: "litettsd",
        input: $("try-text").value,
        voice: $("try-voice").value,
        response_format: $("try-format").value,
        // an emptied field means the default, not speed 0 (which the API refuses)
        speed: $("try-speed").value.trim() === "" ? 1 : Number($("try-speed").value),
      }),
    });
    if (!response.ok) {
      const body = await response.json();
      throw new Error(`${response.status} ${body.error.code}: ${body.error.message}`);
    }
    const reader = response.body.getReader();
    const chunks = [];
    let firstByte = null, size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (firstByte === null) firstByte = performance.now() - started;
      chunks.push(value);
      size += value.length;
    }
    const blob = new Blob(chunks, { type: response.headers.get("Content-Type") });
    const audio = $("try-audio");
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.src = URL.createObjectURL(blob);
    audio.play().catch(() => {}); // autoplay may be refused; the controls still play it
    result.textContent =
      `${size} bytes of ${response.headers.get("X-Litettsd-Format")} from ${response.headers.get("X-Litettsd-Voice")}` +
      ` · first bytes after ${firstByte === null ? "–" : firstByte.toFixed(0)} ms` +
      ` · complete after ${(performance.now() - started).toFixed(0)} ms`;
    result.dataset.bytes = String(size);
  } catch (error) {
    result.textContent = String(error.message || error);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("try").addEventListener("submit", speak);
  loadVoices();
  setInterval(loadVoices, VOICES_EVERY_MS);
  // Chained rather than setInterval, so a slow answer never piles polls up.
  const loop = async () => {
    await poll();
    setTimeout(loop, POLL_MS);
  };
  loop();
});
