// intentgate merchandiser page: the "Routes" view. Requests no route rule decides (sampled live by
// the proxy, query values dropped), grouped into URL templates, with the kind each suggests and a
// ready rules file built by the same mining code as `intentgate routes suggest`. Uses app.js's
// helpers ($, el, clear, api, guarded, loaders); every value is inserted as text.
"use strict";

async function loadRoutes() {
  await guarded(async () => {
    const data = await api("routes/unmatched");
    const box = clear($("routes"));
    box.append(el("p", { class: "hint", id: "routes-summary" },
      `${data.seen} requests matched no rule; ${data.sampled} sampled, ` +
      `${data.distinct_paths} distinct paths.`));
    if (!data.templates.length) {
      box.append(el("p", { class: "empty" }, "Every request so far matched a rule."));
      return;
    }
    const head = el("tr", {}, ["Template", "Method", "Requests", "Distinct", "Suggested kind",
      "Confidence", "Examples"].map((h) => el("th", { scope: "col" }, h)));
    const rows = data.templates.map((t) => el("tr", { class: "unmatched-row" },
      el("td", {}, el("code", {}, t.template)),
      el("td", {}, Array.isArray(t.method) ? t.method.join(", ") : t.method),
      el("td", { class: "num" }, t.count),
      el("td", { class: "num" }, t.distinct),
      el("td", {}, t.proposed && t.kind !== "page" ? t.kind : "— (page view)"),
      el("td", {}, t.proposed && t.kind !== "page" ? `${t.level} (${t.confidence})` : "—"),
      el("td", {}, t.examples.join("  "))));
    box.append(el("div", { class: "scroll" }, el("table", { class: "table", id: "unmatched" },
      el("thead", {}, head), el("tbody", {}, rows))));
    const pre = el("pre", { id: "suggested-rules", class: "code", hidden: true },
      data.rules_toml || "# no rule to suggest yet");
    const button = el("button", { type: "button", id: "suggest-rules",
      onclick: () => { pre.hidden = !pre.hidden; } }, "Suggest rules");
    box.append(el("h3", {}, "Suggested rules"),
      el("p", { class: "hint" }, "Review, then add them to the config file and check them " +
        "with `intentgate routes test --config FILE METHOD URL`."), button, pre);
  });
}

loaders.routes = loadRoutes;
