/* Qingshan 青山 dashboard: plain JS, no libraries, no external requests. */
(function () {
  "use strict";

  var I18N = {
    en: {
      title: "GEP accounting results", run: "Run", year: "Year", indicator: "Indicator", measure: "Measure",
      measure_value: "Value (CNY)", measure_quantity: "Physical quantity", map: "Map",
      map_hint: "Click a region to see its breakdown and drill down.", gep_total: "GEP total",
      yi: "100 million CNY", by_class: "By class", by_indicator: "By indicator", class: "Class",
      value_yi: "Value (100 M CNY)", share: "Share", ranking: "Ranking", level: "Level",
      level_province: "Province", level_city: "City", level_county: "County", level_township: "Township",
      download_csv: "Download CSV", download_xlsx: "Download XLSX", rank: "Rank", region: "Region",
      value: "Value", per_km2: "Per km²", footer: "Read-only view of the Qingshan results store.",
      gep_all: "GEP (all indicators)", all_regions: "All regions", no_data: "no data", loading: "Loading…",
      no_runs: "No succeeded run in the results store. Run `qingshan demo` or `qingshan account` first.",
      quantity_needs_indicator: "Choose an indicator to see a physical quantity.", lang_button: "中文",
      lang_label: "Switch to Chinese", map_label: "Map of regions", crumbs_label: "Drill-down path",
      legend: "Legend"
    },
    zh: {
      title: "生态产品总值核算结果", run: "核算记录", year: "年份", indicator: "指标", measure: "量纲",
      measure_value: "价值量（元）", measure_quantity: "实物量", map: "地图",
      map_hint: "点击区域查看构成并逐级下钻。", gep_total: "GEP 总值",
      yi: "亿元", by_class: "按类别", by_indicator: "按指标", class: "类别",
      value_yi: "价值量（亿元）", share: "占比", ranking: "排名", level: "层级",
      level_province: "省", level_city: "市", level_county: "县（区）", level_township: "乡镇（街道）",
      download_csv: "下载 CSV", download_xlsx: "下载 XLSX", rank: "名次", region: "区域",
      value: "数值", per_km2: "单位面积", footer: "青山结果库只读视图。",
      gep_all: "GEP（全部指标）", all_regions: "全部区域", no_data: "无数据", loading: "加载中…",
      no_runs: "结果库中没有成功的核算。请先运行 `qingshan demo` 或 `qingshan account`。",
      quantity_needs_indicator: "查看实物量请先选择一个指标。", lang_button: "English",
      lang_label: "切换为英文", map_label: "区域地图", crumbs_label: "下钻路径",
      legend: "图例"
    }
  };
  var PALETTE = ["#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32"];
  var NS = "http://www.w3.org/2000/svg";

  var state = {
    lang: localStorage.getItem("qingshan.lang") || ((navigator.language || "en").slice(0, 2) === "zh" ? "zh" : "en"),
    runIndicators: null, runs: [], run: null, indicators: {}, year: null, indicator: "", measure: "value",
    path: [], selected: null, features: [], summary: null, ranking: null
  };

  function $(id) { return document.getElementById(id); }
  function t(key) { return (I18N[state.lang] || I18N.en)[key] || I18N.en[key] || key; }
  function nameOf(obj) { return state.lang === "zh" ? (obj.name_zh || obj.name) : (obj.name_en || obj.name); }

  function fmt(x, digits) {
    if (x === null || x === undefined || isNaN(x)) { return "—"; }
    return Number(x).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US",
      { maximumFractionDigits: digits === undefined ? 2 : digits, minimumFractionDigits: 0 });
  }
  function fmtMetric(x, unit) {
    if (x === null || x === undefined) { return t("no_data"); }
    if (unit === "CNY") { return fmt(x / 1e8, 2) + " " + t("yi"); }
    return fmt(x, 0) + " " + unit;
  }

  function api(path) {
    return fetch(path, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(state.lang === "zh" ? (body.message_zh || body.message_en) : body.message_en); }
        return body;
      });
    });
  }
  function showError(err) { $("status").textContent = String(err.message || err); }
  function clearStatus() { $("status").textContent = ""; }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined && params[k] !== "") {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }
  function runUrl(suffix, params) { return "/api/runs/" + encodeURIComponent(state.run.id) + suffix + query(params || {}); }

  /* ---------- language ---------- */
  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.getAttribute("data-i18n")); });
    $("lang").textContent = t("lang_button");
    $("lang").setAttribute("aria-label", t("lang_label"));
    $("map").setAttribute("aria-label", t("map_label"));
    $("crumbs").setAttribute("aria-label", t("crumbs_label"));
    fillIndicators();
    renderCrumbs(); renderMap(); renderPanel(); renderRanking();
  }

  /* ---------- controls ---------- */
  function fillRuns() {
    var sel = $("run"); sel.innerHTML = "";
    state.runs.forEach(function (r) {
      var o = document.createElement("option"); o.value = r.id; o.textContent = r.name + " (" + r.years.join(", ") + ")";
      sel.appendChild(o);
    });
  }
  function fillYears() {
    var sel = $("year"); sel.innerHTML = "";
    state.run.years.slice().sort().forEach(function (y) {
      var o = document.createElement("option"); o.value = y; o.textContent = y; sel.appendChild(o);
    });
    sel.value = state.year;
  }
  function fillIndicators() {
    var sel = $("indicator"); sel.innerHTML = "";
    var o = document.createElement("option"); o.value = ""; o.textContent = t("gep_all"); sel.appendChild(o);
    Object.keys(state.indicators).forEach(function (id) {
      if (state.runIndicators && state.runIndicators.indexOf(id) < 0) { return; }
      var s = state.indicators[id];
      var opt = document.createElement("option"); opt.value = id; opt.textContent = nameOf(s); sel.appendChild(opt);
    });
    sel.value = state.indicator;
    $("measure-quantity").disabled = !state.indicator;
  }

  /* ---------- map ---------- */
  function eachPoint(geom, fn) {
    if (!geom) { return; }
    var polys = geom.type === "Polygon" ? [geom.coordinates] : geom.type === "MultiPolygon" ? geom.coordinates : [];
    polys.forEach(function (poly) { poly.forEach(function (ring) { ring.forEach(fn); }); });
  }
  function projection(features, width, height, pad) {
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    features.forEach(function (f) {
      eachPoint(f.geometry, function (p) {
        minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]); minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]);
      });
    });
    if (!isFinite(minX)) { return null; }
    var kx = Math.cos(((minY + maxY) / 2) * Math.PI / 180);  // equirectangular, true scale at the middle latitude
    var w = Math.max((maxX - minX) * kx, 1e-9), h = Math.max(maxY - minY, 1e-9);
    var s = Math.min((width - 2 * pad) / w, (height - 2 * pad) / h);
    var ox = (width - w * s) / 2, oy = (height - h * s) / 2;
    return function (p) { return [ox + (p[0] - minX) * kx * s, oy + (maxY - p[1]) * s]; };
  }
  function pathOf(geom, project) {
    var d = [];
    var polys = geom.type === "Polygon" ? [geom.coordinates] : geom.type === "MultiPolygon" ? geom.coordinates : [];
    polys.forEach(function (poly) {
      poly.forEach(function (ring) {
        ring.forEach(function (p, i) { var q = project(p); d.push((i ? "L" : "M") + q[0].toFixed(1) + "," + q[1].toFixed(1)); });
        d.push("Z");
      });
    });
    return d.join("");
  }
  function centroid(geom, project) {
    var sx = 0, sy = 0, n = 0;
    eachPoint(geom, function (p) { var q = project(p); sx += q[0]; sy += q[1]; n += 1; });
    return n ? [sx / n, sy / n] : [0, 0];
  }
  function colourScale(values) {
    var v = values.filter(function (x) { return x !== null && x !== undefined && !isNaN(x); });
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
    return {
      lo: lo, hi: hi,
      colour: function (x) {
        if (x === null || x === undefined || isNaN(x)) { return "#d9d9d9"; }
        var k = hi > lo ? Math.floor((x - lo) / (hi - lo) * (PALETTE.length - 1) + 1e-9) : PALETTE.length - 2;
        return PALETTE[Math.max(0, Math.min(PALETTE.length - 1, k))];
      }
    };
  }
  function renderMap() {
    var svg = $("map");
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var feats = state.features;
    var project = projection(feats, 800, 560, 20);
    if (!project) { return; }
    var scale = colourScale(feats.map(function (f) { return f.properties.metric; }));
    var labels = document.createElementNS(NS, "g");
    feats.forEach(function (f) {
      if (!f.geometry) { return; }
      var p = f.properties;
      var path = document.createElementNS(NS, "path");
      path.setAttribute("d", pathOf(f.geometry, project));
      path.setAttribute("fill", scale.colour(p.metric));
      path.setAttribute("fill-rule", "evenodd");
      path.setAttribute("tabindex", "0");
      path.setAttribute("role", "button");
      path.setAttribute("data-code", p.code);
      path.setAttribute("aria-label", p.name + ": " + fmtMetric(p.metric, p.metric_unit));
      if (state.selected === p.code) { path.setAttribute("class", "selected"); }
      var title = document.createElementNS(NS, "title");
      title.textContent = p.name + " — " + fmtMetric(p.metric, p.metric_unit);
      path.appendChild(title);
      path.addEventListener("click", function () { selectRegion(p); });
      path.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectRegion(p); }
      });
      svg.appendChild(path);
      var c = centroid(f.geometry, project);
      var text = document.createElementNS(NS, "text");
      text.setAttribute("x", c[0].toFixed(1)); text.setAttribute("y", c[1].toFixed(1));
      text.textContent = p.name;
      labels.appendChild(text);
    });
    svg.appendChild(labels);
    renderLegend(scale, feats.length ? feats[0].properties.metric_unit : "CNY");
  }
  function renderLegend(scale, unit) {
    var el = $("legend"); el.innerHTML = "";
    if (!isFinite(scale.lo)) { el.textContent = t("no_data"); return; }
    var lab = document.createElement("span"); lab.textContent = t("legend") + ": " + fmtMetric(scale.lo, unit); el.appendChild(lab);
    PALETTE.forEach(function (c) {
      var sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = c; el.appendChild(sw);
    });
    var hi = document.createElement("span"); hi.textContent = fmtMetric(scale.hi, unit); el.appendChild(hi);
  }
  function renderCrumbs() {
    var nav = $("crumbs"); nav.innerHTML = "";
    var items = [{ name: t("all_regions"), depth: 0 }].concat(state.path.map(function (p, i) { return { name: p.name, depth: i + 1 }; }));
    items.forEach(function (it, i) {
      if (i) { var s = document.createElement("span"); s.className = "sep"; s.textContent = "›"; nav.appendChild(s); }
      var b = document.createElement("button"); b.type = "button"; b.textContent = it.name;
      b.addEventListener("click", function () { state.path = state.path.slice(0, it.depth); loadMap(); });
      nav.appendChild(b);
    });
  }

  /* ---------- panel ---------- */
  function renderPanel() {
    var s = state.summary;
    if (!s) { return; }
    $("panel-name").textContent = s.region.name;
    $("panel-level").textContent = t("level_" + s.region.level);
    $("panel-gep").textContent = fmt(s.total_yi, 2);
    var cls = $("class-table").querySelector("tbody"); cls.innerHTML = "";
    s.by_category.forEach(function (c) { cls.appendChild(row([nameOf(c), fmt(c.value / 1e8, 2), pct(c.share)])); });
    var ind = $("indicator-table").querySelector("tbody"); ind.innerHTML = "";
    s.by_indicator.forEach(function (i) {
      ind.appendChild(row([nameOf(i), i.value === null ? "—" : fmt(i.value / 1e8, 2), pct(i.share)]));
    });
  }
  function pct(x) { return x === null || x === undefined ? "—" : fmt(x * 100, 1) + "%"; }
  function row(cells, numeric) {
    var tr = document.createElement("tr");
    cells.forEach(function (c, i) {
      var td = document.createElement("td"); td.textContent = c;
      if (numeric ? numeric[i] : i > 0) { td.className = "num"; }
      tr.appendChild(td);
    });
    return tr;
  }

  /* ---------- ranking ---------- */
  function rankingParams() {
    return { level: $("rank-level").value, year: state.year, indicator: state.indicator, measure: state.measure };
  }
  function renderRanking() {
    var r = state.ranking;
    var body = $("ranking-table").querySelector("tbody"); body.innerHTML = "";
    if (!r) { return; }
    $("rank-value-head").textContent = t("value") + " (" + (r.unit === "CNY" ? t("yi") : r.unit) + ")";
    r.rows.forEach(function (x) {
      var v = x.value === null ? "—" : r.unit === "CNY" ? fmt(x.value / 1e8, 2) : fmt(x.value, 0);
      var per = x.per_km2 === null ? "—" : r.unit === "CNY" ? fmt(x.per_km2 / 1e4, 1) + (state.lang === "zh" ? " 万元" : " ×10⁴ CNY") : fmt(x.per_km2, 1);
      body.appendChild(row([String(x.rank), x.name, v, per], [true, false, true, true]));
    });
  }
  function loadRanking() {
    var p = rankingParams();
    $("csv").href = runUrl("/ranking", Object.assign({}, p, { format: "csv" }));
    $("xlsx").href = runUrl("/ranking", Object.assign({}, p, { format: "xlsx" }));
    return api(runUrl("/ranking", p)).then(function (r) { state.ranking = r; renderRanking(); }).catch(showError);
  }

  /* ---------- data flow ---------- */
  function loadMap() {
    var parent = state.path.length ? state.path[state.path.length - 1].code : null;
    renderCrumbs();
    return api(runUrl("/regions", { parent: parent, year: state.year, indicator: state.indicator, measure: state.measure }))
      .then(function (fc) {
        state.features = fc.features; clearStatus(); renderMap();
        $("map").setAttribute("data-ready", "true");
      }).catch(showError);
  }
  function loadSummary(code) {
    return api(runUrl("/summary", { region: code, year: state.year }))
      .then(function (s) { state.summary = s; state.selected = s.region.code; renderPanel(); return s; });
  }
  function selectRegion(props) {
    loadSummary(props.code).then(function (s) {
      if (s.children.length && state.path.every(function (p) { return p.code !== props.code; })) {
        state.path.push({ code: props.code, name: props.name });
        return loadMap();
      }
      renderMap();
    }).catch(showError);
  }
  function reloadAll() {
    return Promise.all([loadMap(), loadRanking(), loadSummary(state.summary ? state.summary.region.code : null).catch(showError)]);
  }
  function chooseRun(id) {
    state.run = state.runs.filter(function (r) { return r.id === id; })[0];
    state.year = Math.max.apply(null, state.run.years);
    state.path = []; state.summary = null; state.selected = null; state.runIndicators = null;
    fillYears();
    return reloadAll().then(function () {
      if (state.summary) {
        state.runIndicators = state.summary.by_indicator.map(function (i) { return i.indicator; });
        fillIndicators();
      }
    });
  }

  function init() {
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem("qingshan.lang", state.lang);
      applyLanguage();
    });
    $("run").addEventListener("change", function (e) { chooseRun(e.target.value); });
    $("year").addEventListener("change", function (e) { state.year = Number(e.target.value); reloadAll(); });
    $("indicator").addEventListener("change", function (e) {
      state.indicator = e.target.value;
      if (!state.indicator && state.measure === "quantity") {
        state.measure = "value"; document.querySelector("input[name=measure][value=value]").checked = true;
      }
      $("measure-quantity").disabled = !state.indicator;
      loadMap(); loadRanking();
    });
    document.querySelectorAll("input[name=measure]").forEach(function (el) {
      el.addEventListener("change", function () { state.measure = el.value; loadMap(); loadRanking(); });
    });
    $("rank-level").addEventListener("change", loadRanking);
    applyLanguage();
    $("status").textContent = t("loading");
    Promise.all([api("/api/indicators"), api("/api/runs")]).then(function (res) {
      res[0].forEach(function (s) { state.indicators[s.id] = s; });
      fillIndicators();
      state.runs = res[1];
      if (!state.runs.length) { $("status").textContent = t("no_runs"); return; }
      fillRuns();
      return chooseRun(state.runs[0].id);
    }).catch(showError);
  }

  document.addEventListener("DOMContentLoaded", init);
}());
