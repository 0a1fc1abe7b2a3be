// intentgate merchandiser page. Plain DOM, no build step, no CDN. Every value from the API is
// inserted as text (textContent), never as HTML: product names and search terms come from shoppers.
"use strict";

const API = "/_intentgate/api/";
const TOKEN_KEY = "intentgate-admin-token";
// Okabe–Ito's eight colours, which stay apart for the common colour-vision deficiencies; classes
// past the eighth reuse them with white stripes, so 15 classes never share a look. Undetermined
// is plain light grey.
const COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288"];
const UNDETERMINED_COLOR = "#BBBBBB";
// Signal names in a merchandiser's words.
const SIGNAL_NAMES = {
  product_views: "product views", category_views: "category views", searches: "searches",
  comparisons: "comparisons", cart_adds: "adds to cart", cart_removes: "removals from cart",
  checkout_steps: "checkout steps", price_sorts: "price sorts and filters", deal_views: "deal page views",
  review_views: "review page views", wishlist_adds: "wishlist adds", dwell_per_product_s: "time per product page",
  distinct_products: "different products seen", distinct_categories: "different categories seen",
  session_minutes: "session length", revisit_rate: "product revisits",
};
const UNDETERMINED = "undetermined";

let names = {};          // slug -> display name of the live model
let colorOf = {};
let decisionsCursor = null;
let refreshTimer = null;

function $(id) { return document.getElementById(id); }
function signalName(name) { return SIGNAL_NAMES[name] || name.replace(/_/g, " "); }
// How a class's signal compares with the average shopper, in words (z is in standard deviations).
function comparedWithAverage(z) {
  const a = Math.abs(z);
  if (a < 0.5) return "about the same as the average shopper";
  const dir = z > 0 ? "more" : "less";
  if (a < 1.5) return `a little ${dir} than the average shopper`;
  if (a < 3) return `clearly ${dir} than the average shopper`;
  return `far ${dir} than the average shopper`;
}
function look(slug) { return colorOf[slug] || { color: "#999999", striped: false }; }
function swatchBackground(slug) {
  const l = look(slug);
  return l.striped ? `repeating-linear-gradient(45deg, ${l.color} 0 4px, #ffffff 4px 6px)` : l.color;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function pct(v) { return (v === null || v === undefined) ? "—" : `${Number(v).toFixed(1)} %`; }
function when(ts) { return ts ? new Date(ts * 1000).toLocaleTimeString() : "—"; }
function dateTime(ts) { return ts ? new Date(ts * 1000).toLocaleString() : "—"; }
function nameOf(slug) {
  if (slug === UNDETERMINED) return "Undetermined";
  if (slug === null || slug === undefined) return "—";
  return names[slug] || slug;
}
function bar(value, max, cls) {
  const span = el("span");
  span.style.width = `${Math.max(0, Math.min(100, (100 * value) / (max || 1)))}%`;
  return el("div", { class: `bar ${cls || ""}` }, span);
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
function showError(msg, where) { $(where || "error").textContent = msg || ""; }

class AuthError extends Error {}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  const res = await fetch(API + path, { method: options.method || "GET", headers, cache: "no-store" });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401) throw new AuthError((body && body.error) || "sign in again");
  if (!res.ok) throw new Error((body && body.error) || `request failed (${res.status})`);
  return body;
}

// Runs fn; an error is shown in the element ``where``, next to the control that caused it.
async function guarded(fn, where) {
  try {
    showError("", where);
    await fn();
  } catch (e) {
    if (e instanceof AuthError) { signOut(e.message); return; }
    showError(e.message, where);
    const box = $(where || "error");
    if (box && box.scrollIntoView) box.scrollIntoView({ block: "nearest" });
  }
}

// -- sign in ----------------------------------------------------------------------------------

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (refreshTimer) clearInterval(refreshTimer);
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("model-line").textContent = "";
  $("login-error").textContent = reason || "";
}

async function signIn() {
  try {
    const models = await api("models");
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = false;
    $("login-error").textContent = "";
    setModelLine(models);
    showView(location.hash.slice(1) || "overview");
    refreshTimer = setInterval(() => { if (currentView() === "overview") loadOverview(); }, 10000);
  } catch (e) {
    // The API's own reason: "admin API disabled: set INTENTGATE_ADMIN_TOKEN" is not a bad token.
    signOut(e instanceof AuthError && /wrong/.test(e.message) ? "That token was not accepted." : e.message);
  }
}

// Before anyone types a token: say so when this proxy runs without an admin API (health needs
// no token, so this costs no failed request).
async function checkAdminApi() {
  try {
    const res = await fetch("/_intentgate/health", { cache: "no-store" });
    const health = await res.json();
    if (health.admin_api === false) {
      $("login-error").textContent = "The admin API is off on this proxy: start it with an admin " +
        "token (INTENTGATE_ADMIN_TOKEN=… or serve --admin-token …), then sign in with that token.";
    }
  } catch (e) { /* the sign-in attempt reports what is wrong */ }
}

function setModelLine(models) {
  const line = $("model-line");
  clear(line).append(`Live model ${models.active || "none"}`);
  if (models.shadow) line.append(` · shadow ${models.shadow}`);
}

// -- views ------------------------------------------------------------------------------------

const loaders = { overview: loadOverview, sessions: loadSessions, models: loadModels, drift: loadDrift };

function currentView() {
  const tab = document.querySelector(".tab[aria-current=page]");
  return tab ? tab.dataset.view : "overview";
}

function showView(view) {
  if (!loaders[view]) view = "overview";
  for (const tab of document.querySelectorAll(".tab")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.dataset.view !== view;
  if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
  loaders[view]();
}

// -- overview: chart and segment cards --------------------------------------------------------

async function loadOverview() {
  await guarded(async () => {
    const [live, segs] = await Promise.all([api("live"), api("segments")]);
    names = live.display_names || {};
    Object.keys(names).forEach((slug, i) => {
      colorOf[slug] = { color: COLORS[i % COLORS.length], striped: i >= COLORS.length, index: i };
    });
    colorOf[UNDETERMINED] = { color: UNDETERMINED_COLOR, striped: false, index: -1 };
    drawChart(live);
    drawSegments(segs);
  });
}

function drawChart(live) {
  const series = live.series;
  const mix = live.mix;
  const minutes = Math.round(mix.window_s / 60);
  $("mix-summary").textContent = `${mix.decisions} decisions in the last ${minutes} minutes: ` +
    `${mix.classified} classified, ${mix.undetermined} undetermined (${pct(mix.undetermined_percentage)}). ` +
    `Each bar is ${Math.round(live.bucket_s)} seconds; height is the share of that interval's decisions.`;
  const W = 900, H = 240, L = 44, B = 26, T = 8;
  const plotW = W - L - 8, plotH = H - B - T;
  const slugs = Object.keys(names).concat([UNDETERMINED]);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  const defs = svg("defs", {});
  for (const slug of slugs) {
    const l = look(slug);
    if (!l.striped) continue;
    defs.append(svg("pattern", { id: `stripe-${l.index}`, patternUnits: "userSpaceOnUse", width: 6, height: 6,
      patternTransform: "rotate(45)" }, svg("rect", { width: 6, height: 6, fill: l.color }),
      svg("rect", { width: 2, height: 6, fill: "#ffffff" })));
  }
  // (defs go last, so the first rect in the chart is a bar)
  for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
    const y = T + plotH * (1 - frac);
    root.append(svg("line", { x1: L, x2: W - 8, y1: y, y2: y, stroke: "#d9dee4" }));
    root.append(svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, `${frac * 100} %`));
  }
  const bw = plotW / series.length;
  series.forEach((point, i) => {
    const total = Object.values(point.counts).reduce((a, b) => a + b, 0);
    if (!total) return;
    let y = T + plotH;
    for (const slug of slugs) {
      const n = point.counts[slug] || 0;
      if (!n) continue;
      const h = (plotH * n) / total;
      y -= h;
      const rect = svg("rect", { x: L + i * bw + 0.5, y, width: Math.max(bw - 1, 1), height: h,
        fill: look(slug).striped ? `url(#stripe-${look(slug).index})` : look(slug).color });
      rect.append(svg("title", {}, `${nameOf(slug)}: ${n} of ${total} (${pct((100 * n) / total)}) at ${when(point.t)}`));
      root.append(rect);
    }
  });
  const ticks = 4;
  for (let k = 0; k <= ticks; k++) {
    const i = Math.min(series.length - 1, Math.round((k * (series.length - 1)) / ticks));
    const ago = Math.round(((series.length - 1 - i) * live.bucket_s) / 60);
    root.append(svg("text", { x: L + i * bw + bw / 2, y: H - 8, "text-anchor": "middle" },
      ago === 0 ? "now" : `${ago} min ago`));
  }
  root.append(defs);
  clear($("chart")).append(root);
  const legend = clear($("legend"));
  for (const slug of slugs) {
    const sw = el("span", { class: "swatch" });
    sw.style.background = swatchBackground(slug);
    legend.append(el("li", {}, sw, nameOf(slug)));
  }
}

function drawSegments(segs) {
  const box = clear($("segments"));
  const max = Math.max(1, ...segs.segments.map((c) => Math.max(c.live_percentage, c.training_percentage)));
  for (const card of segs.segments) {
    const chars = (card.characteristics || []).slice(0, 3).map((ch) =>
      el("li", {}, `${signalName(ch.signal)}: ${comparedWithAverage(ch.z)}`));
    box.append(el("article", { class: "card", "data-slug": card.slug },
      el("h3", {}, card.display_name),
      el("div", { class: "slug" }, card.slug),
      card.description ? el("p", {}, card.description) : null,
      card.suggested_use ? el("p", {}, el("strong", {}, "Use it: "), card.suggested_use) : null,
      el("div", { class: "share" }, el("span", {}, "Live now"), bar(card.live_percentage, max),
        el("span", { class: "num" }, pct(card.live_percentage))),
      el("div", { class: "share" }, el("span", {}, "In training"), bar(card.training_percentage, max, "training"),
        el("span", { class: "num" }, pct(card.training_percentage))),
      el("p", { class: "hint" }, `${card.live_requests} requests in the last ${Math.round(segs.window_s / 60)} minutes`),
      chars.length ? el("ul", {}, chars) : null));
  }
}

// -- sessions ---------------------------------------------------------------------------------

async function loadSessions() {
  const select = $("decisions-class");
  if (select.options.length <= 1) {
    for (const slug of Object.keys(names).concat([UNDETERMINED])) select.append(el("option", { value: slug }, nameOf(slug)));
  }
  await loadDecisions(false);
}

async function loadDecisions(more) {
  await guarded(async () => {
    const params = new URLSearchParams({ limit: "25" });
    const cls = $("decisions-class").value;
    if (cls) params.set("class", cls);
    if (more && decisionsCursor) params.set("cursor", decisionsCursor);
    const body = await api(`decisions?${params}`);
    const table = $("decisions");
    if (!more) {
      clear(table).append(el("tr", {}, el("th", {}, "Time"), el("th", {}, "Session"), el("th", {}, "Class"),
        el("th", { class: "num" }, "Confidence"), el("th", {}, "Change"), el("th", {}, "Top signal")));
    }
    for (const d of body.decisions) {
      // What the shopper did that pulls toward the class (evidence), never a signal at 0.
      const top = [...d.signals].filter((s) => s.evidence > 0).sort((a, b) => b.evidence - a.evidence)[0];
      table.append(el("tr", {},
        el("td", {}, dateTime(d.ts)),
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => lookup(d.session, "session", d.profile) }, d.session.slice(0, 10) + "…")),
        el("td", {}, nameOf(d.class)),
        el("td", { class: "num" }, pct(100 * d.confidence)),
        el("td", {}, d.changed ? `from ${nameOf(d.previous)}` : "no change"),
        el("td", {}, top ? signalName(top.signal) : "—")));
    }
    if (!more && !body.decisions.length) table.append(el("tr", {}, el("td", { colspan: 6 }, "No decisions recorded yet.")));
    decisionsCursor = body.next_cursor;
    $("decisions-more").hidden = !decisionsCursor;
  }, "decisions-error");
}

async function lookup(id, kind, profile) {
  kind = kind || $("lookup-kind").value;
  $("session-id").value = id;
  $("lookup-kind").value = kind;
  if (currentView() !== "sessions") showView("sessions");
  const out = clear($("session-result"));
  await guarded(async () => {
    const path = kind === "customer" ? "customers" : "sessions";
    // A decision also names its profile: after a restart the profile may still be there.
    const query = profile ? `?profile=${encodeURIComponent(profile)}` : "";
    const s = await api(`${path}/${encodeURIComponent(id.trim())}${query}`);
    out.append(renderSession(s));
    $("lookup-form").scrollIntoView({ block: "start" });
  }, "lookup-error");
}

function renderSession(s) {
  const wrap = el("div", { id: "session-view" });
  const devices = s.devices || [];
  const who = s.identified
    ? `Signed-in shopper · ${devices.length || 1} device${devices.length === 1 ? "" : "s"} · ${s.events} events in the profile`
    : `Anonymous session · ${s.events} events`;
  wrap.append(el("p", {},
    "Class now: ", el("span", { class: "badge", id: "session-class" }, nameOf(s.class)),
    s.class && s.class !== UNDETERMINED ? ` with ${pct(100 * s.confidence)} confidence` : "",
    s.undetermined_reason ? ` (${s.undetermined_reason})` : "",
    s.as_of ? ` · sent with their last request, ${when(s.as_of)}` : ""));
  wrap.append(el("p", { class: "hint", id: "session-who" },
    `${who} · started ${dateTime(s.started_at)} · model ${s.model || "none"}. ` +
    (s.identified ? "This is the class the proxy sends for this shopper now, on every device."
      : "This is the class the proxy sends for this session now.")));
  for (const note of s.notes || []) wrap.append(el("p", { class: "note" }, note.charAt(0).toUpperCase() + note.slice(1) + "."));

  if (s.signals) {
    const why = el("table", { class: "table", id: "session-signals" },
      el("tr", {}, el("th", {}, "Signal"), el("th", {}, "What the shopper did"), el("th", { class: "num" }, "Share of the decision"), el("th", {}, "")));
    const shown = (s.signals || []).filter((x) => x.share > 0).slice(0, 6);
    for (const sig of shown) {
      why.append(el("tr", {}, el("td", {}, signalName(sig.signal)), el("td", {}, sig.in_words),
        el("td", { class: "num" }, sig.share === null ? "—" : pct(100 * sig.share)), el("td", {}, bar(sig.share || 0, 1))));
    }
    const whyPanel = el("div", {}, el("h3", {}, `Why ${nameOf(s.class)}`), why,
      el("p", { class: "hint" }, "Shares are of the evidence for this segment: only what this shopper did that pulls " +
        "toward it is listed, so the shares add up to at most 100 %."));
    const dist = el("table", { class: "table" }, el("tr", {}, el("th", {}, "Segment"), el("th", {}, "Fits its usual range?")));
    const radii = s.radii || {};
    const entries = Object.entries(s.distances || {}).sort((a, b) => a[1] - b[1]).slice(0, 5);
    const unmet = s.unmet || {};
    for (const [slug, d] of entries) {
      const r = radii[slug];
      const needs = unmet[slug] || [];
      const fit = needs.length ? `no: not enough ${needs.map(signalName).join(", ")} yet`
        : !r ? "—" : d <= r ? `yes, ${Math.round((100 * d) / r)} % of the way to its edge`
        : `no, ${(d / r).toFixed(1)} times farther out than its edge`;
      dist.append(el("tr", {}, el("td", {}, nameOf(slug)), el("td", {}, fit)));
    }
    const distPanel = el("div", {}, el("h3", {}, "Nearest segments"), dist,
      el("p", { class: "hint" }, "A shopper gets the nearest segment's class when they are inside that segment's usual range " +
        "(the range that holds nearly all of its shoppers in training) and have shown what it needs; otherwise they stay undetermined."));
    wrap.append(el("div", { class: "grid2" }, whyPanel, distPanel));
  }

  // Timeline: every device's events, the sign-ins that joined them, class changes; oldest first.
  const many = devices.length > 1;
  const items = [];
  for (const e of s.timeline || []) items.push({ ts: e.ts, kind: "event", e });
  for (const c of s.changes || []) items.push({ ts: c.ts, kind: "change", c });
  for (const m of s.merges || []) items.push({ ts: m.ts, kind: "merge", m });
  items.sort((a, b) => a.ts - b.ts || (a.kind === "event" ? -1 : 1));
  const list = el("ol", { class: "timeline", id: "session-timeline" });
  for (const it of items) {
    const device = many && (it.e || it.c) ? el("span", { class: "device" }, (it.e || it.c).device) : null;
    if (it.kind === "event") {
      const e = it.e;
      const what = [e.kind.replace(/_/g, " "), e.product && `product ${e.product}`, e.category && `category ${e.category}`,
        e.query && `“${e.query}”`].filter(Boolean).join(" · ");
      list.append(el("li", { class: e.undone ? "undone" : null }, el("span", { class: "when" }, when(e.ts)), device, what,
        e.undone ? el("span", { class: "tag" }, "undone: the page failed, so it does not count") : null));
    } else if (it.kind === "merge") {
      list.append(el("li", { class: "merge" }, el("span", { class: "when" }, when(it.m.ts)),
        el("strong", {}, many && it.m.device ? `Signed in on ${it.m.device}` : "Signed in"),
        ` — ${many && it.m.device ? "its" : "this device's"} ${it.m.events} event${it.m.events === 1 ? "" : "s"} so far joined the shopper's profile`));
    } else {
      const c = it.c;
      const because = c.signals.map((x) => `${x.in_words} (${pct(100 * x.share)})`).join("; ");
      list.append(el("li", { class: "change" }, el("span", { class: "when" }, when(c.ts)), device,
        el("strong", {}, `Became ${nameOf(c.class)}`), c.previous ? ` (was ${nameOf(c.previous)})` : "",
        c.class !== UNDETERMINED ? `, ${pct(100 * c.confidence)} confident` : "",
        because ? el("div", { class: "because" }, `Because of: ${because}`) : null));
    }
  }
  if (!items.length) list.append(el("li", {}, "No events seen by this proxy for this shopper yet."));
  wrap.append(el("h3", {}, many ? `Timeline across ${devices.length} devices` : "Timeline"), list);
  return wrap;
}

// -- models -----------------------------------------------------------------------------------

async function loadModels() {
  await guarded(async () => {
    const m = await api("models");
    setModelLine(m);
    const table = clear($("models"));
    table.append(el("tr", {}, el("th", {}, "Version"), el("th", {}, "Created"), el("th", { class: "num" }, "Segments"),
      el("th", {}, "Status"), el("th", {}, "")));
    const versions = (m.models || []).slice().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    for (const v of versions) {
      const status = v.active ? el("span", { class: "badge active" }, "live")
        : v.version === m.shadow ? el("span", { class: "badge" }, "shadow") : (v.valid ? "" : el("span", { class: "badge flag" }, "invalid"));
      const actions = el("td", {});
      if (v.valid && !v.active) {
        actions.append(el("button", { type: "button", "data-activate": v.version, onclick: () => act(`models/${v.version}/activate`) }, "Activate"), " ");
        if (v.version !== m.shadow) actions.append(el("button", { type: "button", class: "secondary", "data-shadow": v.version, onclick: () => act(`models/${v.version}/shadow`) }, "Shadow"));
      }
      table.append(el("tr", { "data-version": v.version }, el("td", {}, el("code", {}, v.version)), el("td", {}, v.created_at || "—"),
        el("td", { class: "num" }, v.classes ? v.classes.length : "—"), el("td", {}, status), actions));
    }
    $("rollback").disabled = (m.history || []).length < 2;
    await loadShadow(m.shadow);
  }, "models-error");
}

async function act(path, method) {
  await guarded(async () => {
    await api(path, { method: method || "POST" });
    await loadModels();
  }, "models-error");
}

async function loadShadow(shadow) {
  const box = clear($("shadow"));
  let r;
  if (!shadow) {
    box.append(el("p", { class: "hint" }, "No shadow model. Press “Shadow” beside a version to compare it with the live model on real traffic."));
    return;
  }
  try {
    r = await api("models/shadow");
  } catch (e) {
    if (e instanceof AuthError) throw e;
    box.append(el("p", { class: "hint" }, "No shadow model. Press “Shadow” beside a version to compare it with the live model on real traffic."));
    return;
  }
  box.append(el("p", {}, `Candidate `, el("code", {}, r.candidate), ` beside live `, el("code", {}, r.live || "none"),
    ` since ${dateTime(r.since)}: `, el("strong", { id: "agreement" }, r.agreement_rate === null ? "no requests yet" : `${pct(100 * r.agreement_rate)} agreement`),
    ` over ${r.decisions} requests.`));
  if (r.rows.length) {
    const t = el("table", { class: "table" }, el("tr", {}, el("th", {}, "Live ↓ / candidate →"), r.columns.map((c) => el("th", { class: "num" }, nameOf(c)))));
    r.rows.forEach((row, i) => t.append(el("tr", {}, el("th", {}, nameOf(row)), r.matrix[i].map((n) => el("td", { class: "num" }, n)))));
    box.append(el("div", { class: "scroll" }, t));
  }
  box.append(el("button", { type: "button", class: "secondary", onclick: () => act("models/shadow", "DELETE") }, "Stop shadowing"));
}

// -- drift ------------------------------------------------------------------------------------

async function loadDrift() {
  await guarded(async () => {
    const d = await api("drift");
    const box = clear($("drift"));
    const minutes = Math.round(d.window_s / 60);
    if (!d.enough_traffic) {
      // No figures here: with this little traffic they would mean nothing.
      box.append(el("p", {}, el("span", { class: "badge", id: "drift-status" }, "not enough traffic yet"),
        ` ${d.classified_decisions} classified decisions and ${d.vectors} scored requests in the last ${minutes} minutes; ` +
        `drift is measured from ${d.min_samples} of each.`));
      return;
    }
    const status = d.drift ? el("span", { class: "badge flag", id: "drift-status" }, "drift")
      : el("span", { class: "badge ok", id: "drift-status" }, "no drift");
    box.append(el("p", {}, status, ` Over the last ${minutes} minutes (${d.classified_decisions} classified decisions, ${d.vectors} scored requests).`));
    box.append(el("p", {}, el("span", { class: "big" }, d.psi === null ? "—" : d.psi.toFixed(2)),
      ` population stability index of the class mix: 0 means live traffic splits into classes as training did; above ${d.psi_threshold} the mix has shifted.`));
    const mix = el("table", { class: "table" }, el("tr", {}, el("th", {}, "Segment"), el("th", { class: "num" }, "Live"), el("th", { class: "num" }, "Training")));
    for (const c of d.classes) mix.append(el("tr", {}, el("td", {}, nameOf(c.slug)), el("td", { class: "num" }, pct(c.live_percentage)), el("td", { class: "num" }, pct(c.training_percentage))));
    const sig = el("table", { class: "table" }, el("tr", {}, el("th", {}, "Signal"), el("th", {}, "Live shoppers compared with training"), el("th", {}, "")));
    for (const s of d.signals) {
      sig.append(el("tr", {}, el("td", {}, signalName(s.signal)),
        el("td", {}, comparedWithAverage(s.shift_sd).replace("the average shopper", "in training")),
        el("td", {}, s.flagged ? el("span", { class: "badge flag" }, "shifted") : "")));
    }
    if (!d.signals.length) sig.append(el("tr", {}, el("td", { colspan: 3 }, "No classified traffic yet.")));
    box.append(el("div", { class: "grid2" }, el("div", {}, el("h3", {}, "Class mix"), mix),
      el("div", {}, el("h3", {}, "Signals"), sig)));
  }, "drift-error");
}

// -- wiring -----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    signIn();
  });
  $("logout").addEventListener("click", () => signOut(""));
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
  $("lookup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("session-id").value.trim();
    if (v) lookup(v); else showError("Enter a customer id or a session token first.", "lookup-error");
  });
  $("lookup-kind").addEventListener("change", () => {
    $("session-id").placeholder = $("lookup-kind").value === "customer"
      ? "the customer id your shop sends in X-Intent-Identify" : "a session token from Recent decisions";
  });
  $("decisions-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadDecisions(false); });
  $("decisions-more").addEventListener("click", () => loadDecisions(true));
  $("rollback").addEventListener("click", () => act("models/rollback"));
  if (sessionStorage.getItem(TOKEN_KEY)) signIn(); else { signOut(""); checkAdminApi(); }
});
