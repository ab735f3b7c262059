// Data catalogue (数据目录) and accounting assembly (核算组装) page. No inline scripts (CSP): loaded from here.
"use strict";

(() => {
  let entries = [];
  let me = null;  // the logged-in user  // what the catalogue shows this user (approved versions; drafts of the own department)
  const SINGLE = [["landcover", "土地覆被对照表", "Land-cover table"],
                  ["landcover_meta", "土地覆被表说明", "Land-cover units and sources"],
                  ["deflator", "价格指数表", "Deflator"], ["products", "产品表", "Products table"]];
  const MULTI = [["parameters", ["parameters"], "参数表", "Parameter tables"],
                 ["prices", ["prices", "submission"], "价格表与报表（后者覆盖前者）", "Prices and forms (later ones win)"],
                 ["statistics", ["statistics", "submission"], "统计数据与报表（后者覆盖前者）", "Statistics and forms (later ones win)"]];
  const $ = (id) => document.getElementById(id);

  function title(e) { return QS.t(e.title_zh, e.title_en); }

  function approved(e) { return e.versions.filter((v) => v.status === "approved"); }

  function label(el, zh, en) {
    el.dataset.zh = zh; el.dataset.en = en; el.textContent = QS.t(zh, en);
    return el;
  }

  // ------------------------------------------------------------------ browsing
  async function loadCatalog() {
    const params = new URLSearchParams();
    for (const [id, key] of [["cat-q", "q"], ["cat-kind", "kind"], ["cat-year", "year"], ["cat-region", "region"],
                             ["cat-dept", "department"]]) {
      const v = $(id).value.trim();
      if (v) params.set(key, v);
    }
    const status = $("cat-status");
    try {
      const shown = await QS.api("GET", `/api/catalog?${params}`);
      renderCatalog(shown);
      status.textContent = QS.t(`共 ${shown.length} 条`, `${shown.length} entries`);
      status.className = "";
    } catch (err) { QS.message(status, err); }
  }

  function renderCatalog(shown) {
    const rows = shown.map((e) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = `entry-${e.id}`;
      tr.dataset.key = e.key;
      QS.cell(tr, e.id);
      const t = QS.cell(tr, "", "entry-title-cell");
      const b = QS.button(e.title_zh, e.title_en, `open-entry-${e.id}`, () => showEntry(e.id));
      b.className = "link";
      t.appendChild(b);
      QS.cell(tr, QS.t(e.kind_zh, e.kind) + (e.variable ? ` · ${e.variable}` : ""), "entry-kind");
      QS.cell(tr, e.department);
      QS.cell(tr, e.region || "");
      QS.cell(tr, e.year === null ? QS.t("各年", "all years") : e.year, "entry-year");
      QS.cell(tr, [e.crs, e.resolution].filter(Boolean).join(" · "));
      QS.cell(tr, e.visibility === "public" ? QS.t("公开", "public")
        : [e.department, ...e.departments].join("、"), "entry-visibility");
      const last = e.versions[e.versions.length - 1];
      QS.cell(tr, last ? `v${last.version} ${last.sha256.slice(0, 12)}…` : "—", "entry-version");
      return tr;
    });
    document.querySelector("#catalog tbody").replaceChildren(...rows);
  }

  async function showEntry(id) {
    const e = await QS.api("GET", `/api/catalog/${id}`);
    const panel = $("entry-panel");
    $("entry-status").textContent = "";
    $("entry-title").textContent = `${title(e)} (${e.key})`;
    const dl = $("entry-meta");
    dl.replaceChildren();
    const fields = [["部门", "Department", e.department], ["区划", "Region", e.region], ["年份", "Year", e.year],
                    ["单位", "Unit", e.unit], ["来源", "Source", e.source], ["许可", "Licence", e.licence],
                    ["坐标系", "CRS", e.crs], ["分辨率", "Resolution", e.resolution],
                    ["共享", "Shared with", e.visibility === "public" ? "public 公开" : [e.department, ...e.departments].join("、")]];
    for (const [zh, en, v] of fields) {
      if (v === null || v === undefined || v === "") continue;
      const dt = label(document.createElement("dt"), zh, en);
      const dd = document.createElement("dd");
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
    const rows = e.versions.map((v) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = `version-${v.version}`;
      QS.cell(tr, v.version);
      QS.stateCell(tr, v.status, "version-status");
      QS.cell(tr, v.sha256, "version-sha256");
      QS.cell(tr, v.created_by);
      QS.cell(tr, v.approved_by || "");
      const links = QS.cell(tr, "");
      if (v.status === "draft" && ["reviewer", "accountant", "admin"].includes(me.role)) {
        links.appendChild(QS.button("审核通过", "Approve", `approve-version-${v.version}`, async () => {
          try {
            await QS.api("POST", `/api/catalog/${e.id}/versions/${v.version}/approve`);
            await showEntry(e.id);
            await loadCatalog();
          } catch (err) { QS.message($("entry-status"), err); }
        }));
      }
      for (const [path, zh, en] of [["file", "文件", "file"], ["download", "含元数据", "with metadata"]]) {
        const a = document.createElement("a");
        a.href = `/api/catalog/${e.id}/versions/${v.version}/${path}`;
        a.dataset.testid = `download-${path}-${v.version}`;
        label(a, zh, en);
        links.append(a, document.createTextNode(" "));
      }
      return tr;
    });
    document.querySelector("#entry-versions tbody").replaceChildren(...rows);
    panel.hidden = false;
  }

  // ------------------------------------------------------------------ assembly
  function years() {
    return $("asm-years").value.split(/[,，\s]+/).map((y) => parseInt(y, 10)).filter((y) => y);
  }

  function option(value, text) {
    const o = document.createElement("option");
    o.value = value; o.textContent = text;
    return o;
  }

  function choices(select, list, { none = true } = {}) {
    const keep = select.multiple ? [...select.selectedOptions].map((o) => o.value) : [select.value];
    select.replaceChildren();
    if (none && !select.multiple) select.appendChild(option("", "—"));
    for (const e of list) {
      const v = approved(e).pop();
      const o = option(String(e.id), `${title(e)} · ${e.department}${e.year ? ` · ${e.year}` : ""} · v${v.version}`);
      o.dataset.key = e.key;
      o.selected = keep.includes(String(e.id));
      select.appendChild(o);
    }
  }

  function usable(kinds) { return entries.filter((e) => kinds.includes(e.kind) && approved(e).length); }

  function buildRasterRows() {
    const vars = [...new Set(usable(["raster"]).map((e) => e.variable))].sort();
    const body = document.querySelector("#asm-rasters tbody");
    const rows = [];
    for (const variable of vars) {
      for (const year of years()) {
        const id = `asm-raster-${variable}-${year}`;
        const old = $(id);
        const tr = document.createElement("tr");
        const th = document.createElement("th");
        const lab = document.createElement("label");
        lab.htmlFor = id; lab.textContent = `${variable} ${year}`;
        th.appendChild(lab);
        const td = document.createElement("td");
        const sel = document.createElement("select");
        sel.id = id; sel.dataset.testid = id; sel.dataset.variable = variable; sel.dataset.year = String(year);
        choices(sel, usable(["raster"]).filter((e) => e.variable === variable && (e.year === null || e.year === year)));
        if (old) sel.value = old.value;
        td.appendChild(sel);
        tr.append(th, td);
        rows.push(tr);
      }
    }
    body.replaceChildren(...rows);
  }

  function buildTableSlots() {
    const box = $("asm-tables");
    box.replaceChildren();
    for (const [slot, kinds, zh, en] of MULTI) {
      const p = document.createElement("p");
      const lab = label(document.createElement("label"), zh, en);
      lab.htmlFor = `asm-${slot}`;
      const sel = document.createElement("select");
      sel.id = `asm-${slot}`; sel.dataset.testid = `asm-${slot}`; sel.multiple = true; sel.size = 4;
      choices(sel, usable(kinds));
      p.append(lab, document.createElement("br"), sel);
      box.appendChild(p);
    }
    for (const [slot, zh, en] of SINGLE) {
      const p = document.createElement("p");
      const lab = label(document.createElement("label"), zh, en);
      lab.htmlFor = `asm-${slot}`;
      const sel = document.createElement("select");
      sel.id = `asm-${slot}`; sel.dataset.testid = `asm-${slot}`;
      choices(sel, usable([slot]));
      p.append(lab, document.createTextNode(" "), sel);
      box.appendChild(p);
    }
  }

  function ref(value) { return value ? { entry: parseInt(value, 10) } : null; }

  function spec() {
    const rasters = {};
    for (const sel of document.querySelectorAll("#asm-rasters select")) {
      if (!sel.value) continue;
      const v = sel.dataset.variable;
      rasters[v] = rasters[v] || {};
      rasters[v][sel.dataset.year] = ref(sel.value);
    }
    const tables = {};
    for (const [slot] of MULTI) tables[slot] = [...$(`asm-${slot}`).selectedOptions].map((o) => ref(o.value));
    for (const [slot] of SINGLE) tables[slot] = ref($(`asm-${slot}`).value);
    const exclude = $("asm-exclude").value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
      const i = l.search(/[:：]/);
      return i < 0 ? { id: l, reason: "" } : { id: l.slice(0, i).trim(), reason: l.slice(i + 1).trim() };
    });
    let options = {};
    const text = $("asm-options").value.trim();
    if (text) options = JSON.parse(text);
    const baseYear = parseInt($("asm-base-year").value, 10);
    return { name: $("asm-name").value.trim() || null, profile: $("asm-profile").value, years: years(),
             base_year: baseYear || null, boundaries: ref($("asm-boundaries").value), rasters, tables, exclude,
             options };
  }

  function showPinned(pinned) {
    const items = [];
    const add = (p) => {
      const li = document.createElement("li");
      li.textContent = `${p.slot}: #${p.entry} v${p.version} ${p.filename} sha256 ${p.sha256.slice(0, 16)}…`;
      items.push(li);
    };
    add(pinned.boundaries);
    for (const byYear of Object.values(pinned.rasters)) Object.values(byYear).forEach(add);
    for (const v of Object.values(pinned.tables)) (Array.isArray(v) ? v : v ? [v] : []).forEach(add);
    $("asm-pinned").replaceChildren(...items);
  }

  async function post(url, ok) {
    const status = $("asm-status");
    status.textContent = ""; status.className = "";
    let body;
    try { body = spec(); } catch (err) {
      status.textContent = QS.t(`选项不是有效的 JSON：${err.message}`, `Options are not valid JSON: ${err.message}`);
      status.className = "error";
      return;
    }
    try { ok(await QS.api("POST", url, body), status); } catch (err) { QS.message(status, err); }
  }

  async function exportConfig() {
    const status = $("asm-status");
    try {
      const r = await fetch("/api/assemblies/config", { method: "POST", credentials: "same-origin",
                                                          headers: { "Content-Type": "application/json" },
                                                          body: JSON.stringify(spec()) });
      if (!r.ok) {
        const d = await r.json();
        throw new Error(QS.lang === "zh" ? d.message_zh : d.message_en);
      }
      const a = document.createElement("a");
      a.href = URL.createObjectURL(await r.blob());
      a.download = "accounting.zip";
      a.click();
      status.textContent = QS.t("已导出：accounting.zip（qingshan account accounting.toml 可运行）",
                                "Exported accounting.zip (run it with qingshan account accounting.toml)");
      status.className = "ok";
    } catch (err) { QS.message(status, err); }
  }

  function select(id, value) {
    const sel = $(id);
    if (!sel || !value) return;
    const vals = (Array.isArray(value) ? value : [value]).map((r) => String(r.entry));
    for (const o of sel.options) o.selected = vals.includes(o.value);
  }

  async function importConfig() {
    const status = $("asm-status");
    const file = $("asm-import").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    try {
      const res = await QS.api("POST", "/api/assemblies/import", form);
      await loadEntries();
      const s = res.spec;
      $("asm-name").value = s.name || ""; $("asm-profile").value = s.profile;
      $("asm-years").value = s.years.join(","); $("asm-base-year").value = s.base_year || "";
      buildRasterRows();
      select("asm-boundaries", s.boundaries);
      for (const [v, r] of Object.entries(s.rasters)) {
        for (const y of years()) select(`asm-raster-${v}-${y}`, r.entry ? r : r[String(y)]);
      }
      for (const [slot, r] of Object.entries(s.tables)) select(`asm-${slot}`, r);
      $("asm-exclude").value = s.exclude.map((e) => `${e.id}: ${e.reason}`).join("\n");
      $("asm-options").value = JSON.stringify(s.options);
      status.textContent = QS.t(`已导入：${res.matched.length} 个文件与数据目录一致，新建 ${res.created.length} 个待审核条目。`,
                                `Imported: ${res.matched.length} files match the catalogue; ${res.created.length} new draft entries to approve.`);
      status.className = res.created.length ? "error" : "ok";
    } catch (err) { QS.message(status, err); }
  }

  async function loadEntries() {
    entries = await QS.api("GET", "/api/catalog");
    choices($("asm-boundaries"), usable(["boundaries"]));
    buildRasterRows();
    buildTableSlots();
  }

  // ------------------------------------------------------------------ department uploads
  async function loadOwnEntries() {
    const sel = $("up-entry");
    const own = (await QS.api("GET", "/api/catalog")).filter((e) =>
      ["boundaries", "raster", "parameters", "landcover", "landcover_meta", "prices", "deflator", "statistics",
       "products"].includes(e.kind) && (me.role === "admin" || e.department === me.department));
    sel.replaceChildren(sel.options[0], ...own.map((e) => option(String(e.id), `#${e.id} ${title(e)} · ${e.department}`)));
  }

  async function upload(ev) {
    ev.preventDefault();
    const status = $("up-status");
    const file = $("up-file").files[0];
    if (!file) { status.textContent = QS.t("请选择文件。", "Choose a file."); status.className = "error"; return; }
    try {
      let id = $("up-entry").value;
      if (!id) {
        const val = (x) => $(x).value.trim() || null;
        const year = parseInt($("up-year").value, 10);
        const entry = await QS.api("POST", "/api/catalog", {
          kind: $("up-kind").value, variable: val("up-variable"), title_zh: $("up-title-zh").value.trim(),
          title_en: $("up-title-en").value.trim(), region: val("up-region"), year: year || null,
          unit: $("up-unit").value.trim(), source: $("up-source").value.trim(), licence: $("up-licence").value.trim(),
          visibility: $("up-visibility").value, department: val("up-department"),
          departments: $("up-departments").value.split(/[,，、]+/).map((d) => d.trim()).filter(Boolean) });
        id = String(entry.id);
      }
      const form = new FormData();
      form.append("file", file);
      form.append("note", $("up-note").value);
      const done = await QS.api("POST", `/api/catalog/${id}/versions`, form);
      const v = done.versions[done.versions.length - 1];
      status.textContent = QS.t(`已上传：条目 #${id} 第 ${v.version} 版（待本部门另一位审核员审核）`,
                                `Uploaded: entry #${id} version ${v.version} (a draft until another reviewer of the department approves it)`);
      status.className = "ok";
      await loadCatalog();
      await loadOwnEntries();
      await showEntry(parseInt(id, 10));
    } catch (err) { QS.message(status, err); }
  }

  // ------------------------------------------------------------------ API tokens (admins)
  async function loadTokens() {
    const rows = (await QS.api("GET", "/api/tokens")).map((t) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = `token-${t.id}`;
      QS.cell(tr, t.id); QS.cell(tr, `${t.name} (${t.prefix}…)`); QS.cell(tr, t.scopes.join(" "));
      QS.cell(tr, t.regions.join(" ")); QS.cell(tr, String(t.expires_at).slice(0, 16));
      QS.cell(tr, t.last_used_at ? String(t.last_used_at).slice(0, 16) : "");
      const state = QS.cell(tr, "", "token-state");
      label(state, t.active ? "有效" : (t.revoked_at ? "已吊销" : "已过期"), t.active ? "active" : (t.revoked_at ? "revoked" : "expired"));
      state.dataset.active = String(t.active);
      const act = QS.cell(tr, "");
      if (t.active) {
        act.appendChild(QS.button("吊销", "Revoke", `revoke-token-${t.id}`, async () => {
          try { await QS.api("POST", `/api/tokens/${t.id}/revoke`); await loadTokens(); }
          catch (err) { QS.message($("tok-status"), err); }
        }));
      }
      return tr;
    });
    document.querySelector("#tok-list tbody").replaceChildren(...rows);
  }

  async function createToken(ev) {
    ev.preventDefault();
    const split = (id) => $(id).value.split(/[\s,，]+/).filter(Boolean);
    const body = { name: $("tok-name").value.trim(), department: $("tok-dept").value.trim(),
                   scopes: [...document.querySelectorAll("#tok-form input[name=scope]:checked")].map((c) => c.value),
                   regions: split("tok-regions"), forms: split("tok-forms"),
                   expires_in_days: parseFloat($("tok-days").value) || 90 };
    const status = $("tok-status");
    try {
      const t = await QS.api("POST", "/api/tokens", body);
      $("tok-value").textContent = t.token;
      status.textContent = QS.t("令牌只显示这一次，请立即交给对方系统保存。", "The token is shown only now: hand it to the system.");
      status.className = "ok";
      await loadTokens();
    } catch (err) { QS.message(status, err); }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const user = await QS.requireLogin();
    if (!user) return;
    me = user;
    $("cat-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadCatalog(); });
    await loadCatalog();
    if (user.role !== "viewer" && (user.department || user.role === "admin")) {
      $("upload").hidden = false;
      $("up-form").addEventListener("submit", upload);
      $("up-entry").addEventListener("change", () => { $("up-new").hidden = Boolean($("up-entry").value); });
      await loadOwnEntries();
    }
    if (user.role === "admin") {
      $("tokens").hidden = false;
      $("tok-form").addEventListener("submit", createToken);
      await loadTokens();
    }
    if (!["accountant", "admin"].includes(user.role)) return;
    $("assembly").hidden = false;
    for (const p of await QS.api("GET", "/api/profiles")) $("asm-profile").appendChild(option(p.id, `${p.name_zh} ${p.name_en}`));
    await loadEntries();
    $("asm-years").addEventListener("change", buildRasterRows);
    $("asm-validate").addEventListener("click", () => post("/api/assemblies/validate", (res, status) => {
      showPinned(res.pinned);
      status.textContent = QS.t("校验通过：以下版本已固定（含 SHA-256）。", "Valid: these versions are pinned (with SHA-256).");
      status.className = "ok";
    }));
    $("asm-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      post("/api/assemblies/jobs", (job, status) => {
        showPinned(job.params.assembly.pinned);
        status.textContent = QS.t(`已排队：任务 ${job.id.slice(0, 8)}，进度见“审核与核算”页。`,
                                  `Queued: job ${job.id.slice(0, 8)}; progress on the review and accounting page.`);
        status.className = "ok";
        status.dataset.job = job.id;
      });
    });
    $("asm-save").addEventListener("click", () => post("/api/assemblies", (saved, status) => {
      status.textContent = QS.t(`已保存：#${saved.id} ${saved.name}`, `Saved: #${saved.id} ${saved.name}`);
      status.className = "ok";
    }));
    $("asm-export").addEventListener("click", exportConfig);
    $("asm-import").addEventListener("change", importConfig);
  });
})();
