// Whose traffic the page shows. The admin API says it in every answer ("scope"): "global"
// (every worker of every instance, through Redis), "instance" (one process), "worker" (several
// workers on the memory store: one worker's view) or "local only" (Redis unreachable). For the
// last two the page says so plainly above the views, with the API's own note.
(function () {
  "use strict";
  const KEY = "intentgate-admin-token";
  async function check() {
    const token = sessionStorage.getItem(KEY);
    const el = document.getElementById("scope-note");
    if (!el || !token) return;
    try {
      const res = await fetch("/_intentgate/api/live", {
        headers: { Authorization: `Bearer ${token}` }, cache: "no-store",
      });
      if (!res.ok) return;
      const body = await res.json();
      el.textContent = body.note ? `Partial view (${body.scope}): ${body.note}.` : "";
      el.hidden = !body.note;
    } catch (e) {
      // the page's own error line reports connection problems
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    check();
    setInterval(check, 10000);
  });
})();
