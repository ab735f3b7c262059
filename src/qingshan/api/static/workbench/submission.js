// One submission version as the reviewer sees it: rows against the previous version and last year,
// plausibility flags, per-row comments, the uploaded file, a raster preview; approve or reject.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const sid = Number(params.get("id"));
  const ver = Number(params.get("version"));
  const REVIEWERS = ["reviewer", "accountant", "admin"];
  let user = null;

  const fmt = (x) => (x === null || x === undefined ? "" : Number(x).toLocaleString("zh-CN", { maximumFractionDigits: 6 }));
  const pct = (x) => (x === null || x === undefined ? "" : `${x > 0 ? "+" : ""}${x.toFixed(1)}%`);

  function flagList(td, flags) {
    for (const f of flags) {
      const span = document.createElement("div");
      span.className = f.severity === "error" ? "error" : "badge";
      span.dataset.testid = `flag-${f.code}`;
      span.dataset.severity = f.severity;
      span.dataset.zh = f.zh; span.dataset.en = f.en;
      span.textContent = QS.t(f.zh, f.en);
      td.appendChild(span);
    }
  }

  function commentBox(td, row, canComment) {
    for (const c of row.comments) {
      const d = document.createElement("div");
      d.dataset.testid = "row-comment";
      d.textContent = `${c.author}: ${c.comment}`;
      td.appendChild(d);
    }
    if (!canComment) return;
    const input = document.createElement("input");
    input.size = 18; input.maxLength = 1000; input.dataset.testid = `comment-input-${row.region_code}`;
    td.appendChild(input);
    td.appendChild(QS.button("添加", "Add", `comment-add-${row.region_code}`, async () => {
      const out = document.getElementById("decide-status");
      try {
        await QS.api("POST", `/api/submissions/${sid}/versions/${ver}/comments`,
                     { region_code: row.region_code, item: row.item, comment: input.value });
        await load();
      } catch (err) { QS.message(out, err); }
    }));
  }

  async function load() {
    const v = await QS.api("GET", `/api/submissions/${sid}/versions/${ver}/review`);
    const title = document.getElementById("sub-title");
    title.textContent = `#${sid} · ${v.group}${v.variable ? " · " + v.variable : ""} · ${v.year} · ` +
      QS.t(`第 ${v.version} 版`, `version ${v.version}`);
    const facts = document.getElementById("sub-facts");
    facts.replaceChildren();
    facts.append(`${QS.t("填报人", "By")}: ${v.created_by} · SHA-256 ${v.sha256.slice(0, 16)}… · `);
    facts.appendChild(QS.state(document.createElement("span"), v.status)).dataset.testid = "version-status";
    document.getElementById("file-link").href = `/api/submissions/${sid}/versions/${ver}/file`;
    const lv = document.getElementById("levels");
    lv.textContent = "";
    if (v.review_levels) {
      const NAMES = { county: ["县级", "county"], city: ["市级", "city"], province: ["省级", "province"] };
      const done = Object.fromEntries(v.review_levels.done.map((d) => [d.level, d.reviewer]));
      lv.textContent = QS.t("多级审核：", "Multi-level review: ") + v.review_levels.required.map((l) =>
        `${QS.t(NAMES[l][0], NAMES[l][1])} ${done[l] ? "✓ " + done[l] : QS.t("待审", "pending")}`).join(" → ");
    }
    document.getElementById("counts").textContent = QS.t(
      `共 ${v.counts.rows} 行，${v.counts.flagged} 行有提示，其中 ${v.counts.errors} 行超出合理范围`,
      `${v.counts.rows} rows, ${v.counts.flagged} flagged, ${v.counts.errors} outside the plausible bounds`);
    if (v.raster) {
      document.getElementById("raster-panel").hidden = false;
      document.getElementById("raster-preview").src = `/api/submissions/${sid}/versions/${ver}/preview.png`;
      const r = v.raster;
      document.getElementById("raster-facts").textContent =
        `${r.variable} · ${r.shape ? r.shape.join("×") : ""} · min ${fmt(r.min)} · median ${fmt(r.median)} · ` +
        `p99 ${fmt(r.p99)} · max ${fmt(r.max)}`;
    }
    const canComment = REVIEWERS.includes(user.role) && v.status === "submitted";
    const rows = [];
    for (const row of v.rows) {
      const tr = document.createElement("tr");
      tr.dataset.testid = `row-${row.region_code}-${row.item}`;
      QS.cell(tr, row.region_code); QS.cell(tr, row.item); QS.cell(tr, fmt(row.value), "row-value"); QS.cell(tr, row.unit);
      const prev = row.status_previous === "added" ? QS.t("新增", "added")
        : (row.status_previous === "changed" ? `${fmt(row.previous)} → ` : (row.status_previous === "unchanged" ? "=" : ""));
      QS.cell(tr, prev, "row-previous");
      QS.cell(tr, row.last_year === null ? "" : `${fmt(row.last_year)} ${row.last_year_unit}`, "row-last-year");
      QS.cell(tr, pct(row.change_last_year_pct), "row-change");
      flagList(QS.cell(tr, "", "row-flags"), row.flags);
      commentBox(QS.cell(tr, "", "row-comments"), row, canComment);
      if (row.flags.some((f) => f.severity === "error")) tr.className = "flag-error";
      rows.push(tr);
    }
    document.querySelector("#rows tbody").replaceChildren(...rows);
    document.getElementById("removed").textContent = v.removed_since_previous.length
      ? QS.t("上一版有、本版已删除：", "Removed since the previous version: ") +
        v.removed_since_previous.map((r) => `${r.region_code} ${r.item}`).join(", ")
      : "";
    const list = document.getElementById("version-comments");
    list.replaceChildren(...v.comments.map((c) => {
      const li = document.createElement("li"); li.textContent = `${c.author}: ${c.comment}`; return li;
    }));
    document.getElementById("decide").hidden = !(REVIEWERS.includes(user.role) && v.status === "submitted");
  }

  async function decide(verb) {
    const out = document.getElementById("decide-status");
    try {
      const comment = document.getElementById("decision-comment").value || null;
      await QS.api("POST", `/api/submissions/${sid}/versions/${ver}/${verb}`, { comment });
      out.textContent = QS.t("已处理。", "Done."); out.className = "ok";
      await load();
    } catch (err) { QS.message(out, err); }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    user = await QS.requireLogin();
    if (!user) return;
    if (user.role === "submitter") document.getElementById("back-link").href = "/workbench/submit";
    document.getElementById("approve").addEventListener("click", () => decide("approve"));
    document.getElementById("reject").addEventListener("click", () => decide("reject"));
    document.addEventListener("qs-lang", load);
    try { await load(); } catch (err) { QS.message(document.getElementById("decide-status"), err); }
  });
})();
