// intentgate merchandiser page: the Experiments panel (holdout lift by class). Loaded after
// app.js and uses its helpers ($, el, clear, api, guarded, nameOf, loaders). Values from the API
// are inserted as text only.
"use strict";

function rateCell(group) {
  if (!group || group.rate === null) return el("td", { class: "num" }, "—");
  const [lo, hi] = group.interval;
  return el("td", { class: "num" }, pct(100 * group.rate),
    el("div", { class: "hint" }, `${(100 * lo).toFixed(1)}–${(100 * hi).toFixed(1)} %`));
}

function liftCell(row) {
  const rel = row.relative;
  if (!rel) return el("td", { class: "num" }, "—");
  const signed = (v) => `${v >= 0 ? "+" : "−"}${Math.abs(100 * v).toFixed(0)} %`;
  return el("td", { class: "num" }, signed(rel.difference),
    el("div", { class: "hint" }, `${signed(rel.interval[0])} to ${signed(rel.interval[1])}`));
}

function money(v) { return (v === null || v === undefined) ? "—" : Number(v).toFixed(2); }

async function loadExperiments() {
  await guarded(async () => {
    const index = await api("experiments");
    const status = clear($("experiment-status"));
    const box = clear($("experiment-report"));
    const name = index.current ? index.current.name : index.known[index.known.length - 1];
    if (index.current) {
      status.append(`Running: ${index.current.name}, holdout share `,
        `${(100 * index.current.holdout_share).toFixed(1)} % since ${dateTime(index.current.started_at)}.`);
    } else {
      status.append("No experiment is running. Set holdout_share in the configuration or POST api/experiments/<name>.");
    }
    if (!name) return;
    if (!Object.keys(names).length) {  // opened straight on this tab: fetch the class names
      const live = await api("live");
      Object.assign(names, live.display_names);
    }
    const metric = $("experiment-metric").value || "purchase";
    const report = await api(`experiments/${encodeURIComponent(name)}?metric=${metric}`);
    const t = report.totals;
    box.append(el("p", { class: "hint" },
      `${report.experiment} · model ${report.model || "—"} · ${t.treatment.sessions} treatment and ` +
      `${t.holdout.sessions} holdout sessions · ${report.shared ? "all instances" : "this instance"}`));
    const head = el("tr", {}, ["Class", "Treatment", "Holdout", "Lift", "Sessions (T / H)",
      "Detectable", "Revenue / session (T / H)", ""].map((h) => el("th", {}, h)));
    const rows = report.classes.map((row) => el("tr", { "data-class": row.class },
      el("td", {}, nameOf(row.class)),
      rateCell(row.treatment), rateCell(row.holdout), liftCell(row),
      el("td", { class: "num" }, `${row.treatment.sessions} / ${row.holdout.sessions}`),
      el("td", { class: "num" }, row.mde_relative === null ? "—" : `±${(100 * row.mde_relative).toFixed(0)} %`),
      el("td", { class: "num" }, `${money(row.treatment.revenue_per_session)} / ${money(row.holdout.revenue_per_session)}`),
      el("td", {}, row.significant ? el("span", { class: "badge ok" }, "significant")
        : el("span", { class: "badge" }, row.comparable ? "not yet" : "no holdout"))));
    box.append(el("div", { class: "scroll" }, el("table", { id: "lift-table", class: "table" }, head, rows)));
    box.append(el("ul", { id: "lift-sentences" }, report.sentences.map((s) => el("li", {}, s))));
    box.dataset.metric = report.metric;
  });
}

loaders.experiments = loadExperiments;
document.addEventListener("DOMContentLoaded", () => {
  $("experiment-metric").addEventListener("change", () => loadExperiments());
});
