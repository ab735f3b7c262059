/* Qingshan 青山 eco-compensation page: POST /api/runs/{id}/compensation and show, check and export
 * the allocation. Amounts are handled as integer fen (exact); the factor CSV is parsed here. */
(function () {
  "use strict";

  const I18N = {
    en: {
      title: "Eco-compensation allocation", back: "← GEP results map",
      intro: "Split a fund among the regions of a published run by a declared rule. Amounts are whole fen and add up to the fund exactly (largest remainder).",
      run: "Run", year: "Year", level: "Level", level_city: "City", level_county: "County", level_township: "Township",
      rule: "Rule", rule_gep_stock: "GEP (stock)", rule_gep_growth: "GEP growth (comparable prices)",
      rule_gep_per_area: "GEP per km²", rule_factors: "Factors (e.g. water quality, forest cover)",
      from_year: "Earlier year", fund: "Fund (yuan)", min_share: "Minimum share (%)", max_share: "Maximum share (%)",
      factor_upload: "Upload the factor table (CSV: region_code, one column per factor)", compute: "Compute the allocation",
      export: "Export CSV", allocation: "Allocation", total: "Total", yuan: "yuan", footer: "Figures come from the stored run named above.",
      rank: "No.", code: "Code", region: "Region", score: "Score", share_exact: "Share by score", share: "Share (after bounds)",
      amount: "Amount (yuan)", total_row: "Total", equals_fund: "equals the fund ✓", differs: "differs from the fund by",
      weight: "weight", factor_rows: "regions", factor_columns: "factors",
      computing: "Computing…", no_runs: "No published run in the results store.",
      bad_fund: "The fund must be a positive amount in yuan with at most two decimals, e.g. 1250000.00.",
      bad_share: "Shares are percentages between 0 and 100, the minimum not above the maximum.",
      need_factors: "Upload the factor table first (CSV with region_code and one column per factor).",
      bad_csv: "The factor table has no region_code column or no factor column. Fix: the first row names the columns: region_code, then one column per factor.",
      bad_weights: "The factor weights must be non-negative and add up to 1 (now {sum}).",
      no_growth_year: "The rule GEP growth needs two years of the run: choose a run with at least two years.",
      explain_gep_stock: "Shares are proportional to each region's GEP of the year.",
      explain_gep_growth: "Shares are proportional to each region's GEP growth at comparable prices (regions that did not grow get nothing).",
      explain_gep_per_area: "Shares are proportional to each region's GEP per km².",
      explain_factors: "Each factor is normalised to shares of its column total and weighted; shares are proportional to the weighted sum.",
      bounds: "Bounds: each share between {lo}% and {hi}% of the fund (the rest redistributed in proportion).",
      run_named: "Run", fix: "Fix", lang_button: "中文", lang_label: "Switch to Chinese",
      score_gep_stock: "Score: GEP (CNY)", score_gep_growth: "Score: GEP growth (CNY, comparable)",
      score_gep_per_area: "Score: GEP per km² (CNY/km²)", score_factors: "Score: weighted factor share"
    },
    zh: {
      title: "生态补偿资金分配", back: "← GEP 核算结果地图",
      intro: "按声明的规则将补偿资金分配给已发布核算中的各地区。金额精确到分，且合计严格等于资金总额（最大余数法）。",
      run: "核算记录", year: "年份", level: "层级", level_city: "市", level_county: "县（区）", level_township: "乡镇（街道）",
      rule: "分配规则", rule_gep_stock: "GEP 总量", rule_gep_growth: "GEP 增量（可比价）",
      rule_gep_per_area: "地均 GEP（每平方千米）", rule_factors: "因素法（如水质改善、森林覆盖）",
      from_year: "起始年份", fund: "资金总额（元）", min_share: "最低份额（%）", max_share: "最高份额（%）",
      factor_upload: "上传因素表（CSV：region_code 及各因素列）", compute: "计算分配结果",
      export: "导出 CSV", allocation: "分配结果", total: "合计", yuan: "元", footer: "数据来自上方所选的核算记录。",
      rank: "序号", code: "区划代码", region: "地区", score: "得分", share_exact: "按得分份额", share: "份额（约束后）",
      amount: "金额（元）", total_row: "合计", equals_fund: "等于资金总额 ✓", differs: "与资金总额相差",
      weight: "权重", factor_rows: "个地区", factor_columns: "个因素",
      computing: "正在计算…", no_runs: "结果库中没有已发布的核算。",
      bad_fund: "资金总额应为最多两位小数的正数（元），如 1250000.00。",
      bad_share: "份额为 0 到 100 之间的百分数，且最低份额不高于最高份额。",
      need_factors: "请先上传因素表（含 region_code 及各因素列的 CSV）。",
      bad_csv: "因素表缺少 region_code 列或因素列。解决办法：首行为列名：region_code，其后每个因素一列。",
      bad_weights: "因素权重应为非负数且合计为 1（当前合计 {sum}）。",
      no_growth_year: "“GEP 增量”规则需要核算中的两个年份：请选择至少包含两个年份的核算。",
      explain_gep_stock: "份额与各地区当年 GEP 成正比。",
      explain_gep_growth: "份额与各地区可比价 GEP 增量成正比（未增长的地区不分配）。",
      explain_gep_per_area: "份额与各地区地均 GEP（每平方千米）成正比。",
      explain_factors: "各因素先按列合计归一为份额，再加权求和；份额与加权得分成正比。",
      bounds: "约束：每个地区的份额在资金总额的 {lo}% 与 {hi}% 之间（其余部分按比例重新分配）。",
      run_named: "核算记录", fix: "解决办法", lang_button: "English", lang_label: "切换为英文",
      score_gep_stock: "得分：GEP（元）", score_gep_growth: "得分：GEP 增量（元，可比价）",
      score_gep_per_area: "得分：地均 GEP（元/平方千米）", score_factors: "得分：加权因素份额"
    }
  };
  const state = {
    lang: localStorage.getItem("qingshan.lang") || ((navigator.language || "en").slice(0, 2) === "zh" ? "zh" : "en"),
    runs: [], factors: null, factorColumns: [], result: null, message: null
  };
  const $ = (id) => document.getElementById(id);
  const t = (key) => (I18N[state.lang] || I18N.en)[key] || I18N.en[key] || key;

  function fmt(x, digits) {
    return Number(x).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US",
      { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  }
  /* ---------- exact money: integer fen ---------- */
  function fundFen(text) {
    // "1,250,000.5" → 125000050; null when not a positive amount with at most two decimals
    const m = /^\s*(\d+)(?:\.(\d{0,2}))?\s*$/.exec(String(text).replace(/[,\s]/g, ""));
    if (!m) { return null; }
    const fen = Number(m[1]) * 100 + Number(((m[2] || "") + "00").slice(0, 2));
    return fen > 0 && Number.isSafeInteger(fen) ? fen : null;
  }
  function fenText(fen, grouped) {
    const sign = fen < 0 ? "-" : "", a = Math.abs(fen), yuan = Math.floor(a / 100), rest = String(a % 100).padStart(2, "0");
    return sign + (grouped ? fmt(yuan, 0) : String(yuan)) + "." + rest;
  }

  /* ---------- messages (next to the form, in the chosen language, with the fix) ---------- */
  function errorText(body) {
    const msg = state.lang === "zh" ? (body.message_zh || body.message_en) : (body.message_en || body.message_zh);
    const fix = state.lang === "zh" ? (body.fix_zh || body.fix) : (body.fix || body.fix_zh);
    return msg && fix ? msg + " " + t("fix") + (state.lang === "zh" ? "：" : ": ") + fix : msg;
  }
  function say(what, isError, vars) {
    // what: an i18n key, an API error body, or nothing
    state.message = what ? [what, isError, vars] : null;
    let text = "";
    if (typeof what === "string") {
      text = t(what);
      Object.keys(vars || {}).forEach((k) => { text = text.replace("{" + k + "}", vars[k]); });
    } else if (what) { text = errorText(what) || String(what.message || what); }
    const el = $("message"); el.textContent = text; el.hidden = !text; el.classList.toggle("is-error", !!isError);
  }

  /* ---------- CSV (RFC 4180 subset: quotes, commas, CRLF, BOM) ---------- */
  function parseCsv(text) {
    const rows = []; let row = [], cell = "", quoted = false;
    text = text.replace(/^\ufeff/, "");
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') { quoted = false; } else { cell += c; }
      } else if (c === '"') { quoted = true; } else if (c === ",") { row.push(cell); cell = ""; } else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") { i++; }
        row.push(cell); cell = ""; if (row.some((x) => x.trim() !== "")) { rows.push(row); } row = [];
      } else { cell += c; }
    }
    row.push(cell); if (row.some((x) => x.trim() !== "")) { rows.push(row); }
    return rows;
  }
  function readFactors(text) {
    const rows = parseCsv(text);
    const head = (rows[0] || []).map((h) => h.trim());
    const key = head.indexOf("region_code");
    const columns = head.filter((h, i) => i !== key && h);
    if (key < 0 || !columns.length) { return null; }
    const records = rows.slice(1).map((r) => {
      const rec = { region_code: String(r[key] || "").trim() };
      head.forEach((h, i) => {
        if (i === key || !h) { return; }
        const v = String(r[i] === undefined ? "" : r[i]).trim();
        rec[h] = v === "" ? null : (isNaN(Number(v)) ? v : Number(v));  // non-numbers go to the server, which names them
      });
      return rec;
    });
    return { columns: columns, records: records };
  }
  function renderWeights() {
    const box = $("weights"); box.innerHTML = "";
    const n = state.factorColumns.length;
    state.factorColumns.forEach((col, i) => {
      const lab = document.createElement("label"), span = document.createElement("span"), input = document.createElement("input");
      span.textContent = col + " " + t("weight"); input.type = "number"; input.min = "0"; input.max = "1"; input.step = "0.01";
      // equal weights rounded to 0.01, the last one taking the rest so that they add up to 1
      const w = i < n - 1 ? Math.floor(100 / n) / 100 : (100 - (n - 1) * Math.floor(100 / n)) / 100;
      input.value = String(w); input.setAttribute("data-factor", col); input.setAttribute("data-testid", "weight-" + col);
      lab.appendChild(span); lab.appendChild(input); box.appendChild(lab);
    });
    $("factor-info").textContent = state.factors
      ? state.factors.length + " " + t("factor_rows") + " · " + n + " " + t("factor_columns") + ": " + state.factorColumns.join(", ") : "";
  }

  /* ---------- form ---------- */
  const currentRun = () => state.runs.find((r) => r.id === $("run").value);
  function fillRuns() {
    const sel = $("run"); sel.innerHTML = "";
    state.runs.forEach((r) => {
      const o = document.createElement("option"); o.value = r.id; o.textContent = r.name + " (" + r.years.join(", ") + ")"; sel.appendChild(o);
    });
    fillYears();
  }
  function fillYears() {
    const run = currentRun(), years = run ? run.years.slice().sort() : [];
    [["year", years[years.length - 1]], ["from-year", years[0]]].forEach((x) => {
      const sel = $(x[0]); sel.innerHTML = "";
      years.forEach((y) => { const o = document.createElement("option"); o.value = y; o.textContent = y; sel.appendChild(o); });
      if (x[1] !== undefined) { sel.value = x[1]; }
    });
  }
  function showRuleFields() {
    const rule = $("rule").value;
    $("from-wrap").hidden = rule !== "gep_growth";
    $("factors-wrap").hidden = rule !== "factors";
  }
  function requestBody() {
    const fen = fundFen($("fund").value);
    if (fen === null) { return ["bad_fund"]; }
    const lo = Number($("min-share").value), hi = Number($("max-share").value);
    if (!(lo >= 0 && hi <= 100 && lo <= hi)) { return ["bad_share"]; }
    const rule = { rule: $("rule").value, level: $("level").value, min_share: lo / 100, max_share: hi / 100 };
    const body = { fund_yuan: fen / 100, rule: rule, year: Number($("year").value) };
    if (rule.rule === "gep_growth") {
      if (Number($("from-year").value) >= body.year) { return ["no_growth_year"]; }
      body.from_year = Number($("from-year").value);
    }
    if (rule.rule === "factors") {
      if (!state.factors) { return ["need_factors"]; }
      const weights = {};
      let sum = 0;
      document.querySelectorAll("#weights input").forEach((el) => { weights[el.getAttribute("data-factor")] = Number(el.value); sum += Number(el.value); });
      if (Object.keys(weights).some((k) => !(weights[k] >= 0)) || Math.abs(sum - 1) > 1e-9) {
        return ["bad_weights", { sum: fmt(sum, 4) }];
      }
      rule.factors = weights; body.factors = state.factors;
    }
    return [null, body, fen];
  }
  function compute() {
    const req = requestBody();
    if (req[0]) { say(req[0], true, req[1]); return Promise.resolve(); }
    const body = req[1], fen = req[2], run = currentRun();
    say("computing", false); $("compute").disabled = true;
    return fetch("/api/runs/" + encodeURIComponent(run.id) + "/compensation", {
      method: "POST", headers: { Accept: "application/json", "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then((r) => r.json().catch(() => ({})).then((out) => {
      if (!r.ok) { throw Object.assign(new Error(r.statusText), out.message_en ? out : {}); }
      state.result = { out: out, fundFen: fen, run: run, rule: body.rule, year: body.year, fromYear: body.from_year };
      say(null); render();
    })).catch((err) => { state.result = null; render(); say(err.message_en ? err : String(err.message || err), true); })
      .then(() => { $("compute").disabled = false; });
  }

  /* ---------- result ---------- */
  function columns() {
    // the amount first (what a phone shows without scrolling the table), the explanation after it
    const rule = state.result ? state.result.rule.rule : "";
    return [t("rank"), t("region"), t("amount"), t("share"), t("share_exact"), rule ? t("score_" + rule) : t("score"), t("code")];
  }
  function cellsOf(r, i, plain) {
    const p = (x) => (plain ? (x * 100).toFixed(6) : fmt(x * 100, 4)) + "%";
    return [String(i + 1), r.region_name || r.region_code, fenText(r.amount_fen, !plain), p(r.share), p(r.share_exact),
      plain ? String(r.score) : fmt(r.score, 2), r.region_code];
  }
  function render() {
    const res = state.result, box = $("result");
    box.hidden = !res; $("export").disabled = !res;
    if (!res) { return; }
    const rows = res.out.rows, total = rows.reduce((a, r) => a + r.amount_fen, 0);
    $("total").textContent = fenText(total, true);
    $("check").textContent = total === res.fundFen ? t("equals_fund") : t("differs") + " " + fenText(total - res.fundFen, true);
    $("check").setAttribute("data-equal", String(total === res.fundFen));
    const b = res.rule;
    $("explain").textContent = t("explain_" + b.rule) + " " +
      t("bounds").replace("{lo}", fmt(b.min_share * 100, 2)).replace("{hi}", fmt(b.max_share * 100, 2)) + " " +
      t("run_named") + " " + res.run.name + " (" + res.run.id.slice(0, 8) + "), " + (res.fromYear ? res.fromYear + "→" : "") + res.year + ".";
    const head = $("alloc-head"); head.innerHTML = "";
    const numeric = (k) => k !== 1 && k !== 6;
    columns().forEach((c, i) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = c; if (numeric(i)) { th.className = "num"; } head.appendChild(th); });
    const tbody = $("alloc-table").querySelector("tbody"); tbody.innerHTML = "";
    rows.forEach((r, i) => {
      const tr = document.createElement("tr");
      cellsOf(r, i, false).forEach((c, k) => { const td = document.createElement("td"); td.textContent = c; if (numeric(k)) { td.className = "num"; } tr.appendChild(td); });
      tbody.appendChild(tr);
    });
    const foot = $("alloc-foot"); foot.innerHTML = "";
    ["", t("total_row"), fenText(total, true), "100%", "100%", "", ""].forEach((c, k) => {
      const td = document.createElement("td"); td.textContent = c; if (numeric(k)) { td.className = "num"; } foot.appendChild(td);
    });
  }
  function exportCsv() {
    const res = state.result;
    if (!res) { return; }
    const esc = (v) => (/[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v);
    const lines = [columns()].concat(res.out.rows.map((r, i) => cellsOf(r, i, true)))
      .concat([["", t("total_row"), fenText(res.out.rows.reduce((a, r) => a + r.amount_fen, 0), false), "", "", "", ""]]);
    const text = "\ufeff" + lines.map((l) => l.map(esc).join(",")).join("\r\n") + "\r\n";
    const a = document.createElement("a"), url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    a.href = url; a.download = "qingshan-compensation-" + res.run.id.slice(0, 8) + "-" + res.rule.rule + "-" + res.year + ".csv";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.getAttribute("data-i18n")); });
    $("lang").textContent = t("lang_button"); $("lang").setAttribute("aria-label", t("lang_label"));
    renderWeights(); render();
    if (state.message) { say(state.message[0], state.message[1], state.message[2]); }
  }
  function init() {
    $("lang").addEventListener("click", () => {
      state.lang = state.lang === "zh" ? "en" : "zh"; localStorage.setItem("qingshan.lang", state.lang); applyLanguage();
    });
    $("comp-form").addEventListener("submit", (e) => { e.preventDefault(); compute(); });
    $("run").addEventListener("change", fillYears);
    $("rule").addEventListener("change", showRuleFields);
    $("export").addEventListener("click", exportCsv);
    $("factor-file").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (!file) { return; }
      file.text().then((text) => {
        const parsed = readFactors(text);
        state.factors = parsed ? parsed.records : null; state.factorColumns = parsed ? parsed.columns : [];
        renderWeights(); say(parsed ? null : "bad_csv", !parsed);
      });
    });
    applyLanguage(); showRuleFields();
    fetch("/api/runs", { headers: { Accept: "application/json" } }).then((r) => r.json()).then((runs) => {
      state.runs = Array.isArray(runs) ? runs : [];
      if (!state.runs.length) { say("no_runs", true); return; }
      fillRuns();
      document.body.setAttribute("data-ready", "true");
    }).catch((err) => say(String(err.message || err), true));
  }
  document.addEventListener("DOMContentLoaded", init);
}());
