/* Qingshan 青山 dashboard. Map: MapLibre GL JS (no base map, no external request) with an SVG
 * fallback when WebGL is unavailable (or ?renderer=svg); charts: ECharts. Both are served from
 * /static/vendor/ (built from npm by `cd web && npm ci && npm run build`). */
(function () {
  "use strict";

  const I18N = {
    en: {
      title: "GEP accounting results", run: "Run", year: "Year", indicator: "Indicator", measure: "Measure",
      measure_value: "Value (CNY)", measure_quantity: "Physical quantity", map: "Map",
      map_hint: "Click a region to see its breakdown and drill down.", gep_total: "GEP total",
      yi: "100 million CNY", wan: "10 thousand CNY", by_class: "By class", by_indicator: "By indicator", class: "Class",
      value_yi: "Value (100 M CNY)", value_wan: "Value (10⁴ CNY)", share: "Share", ranking: "Ranking", level: "Level",
      level_province: "Province", level_city: "City", level_county: "County", level_township: "Township",
      download_csv: "Download CSV", download_xlsx: "Download XLSX", rank: "Rank", region: "Region",
      value: "Value", per_km2: "Per km²", footer: "Read-only view of the Qingshan results store.",
      licences: "Licences of the map and chart libraries",
      gep_all: "GEP (all indicators)", all_regions: "All regions", no_data: "no data", loading: "Loading…",
      no_runs: "No succeeded run in the results store. Run `qingshan demo` or `qingshan account` first.",
      lang_button: "中文", lang_label: "Switch to Chinese", map_label: "Map of regions",
      crumbs_label: "Drill-down path", legend: "Legend", gep_gdp: "GEP/GDP", gdp: "GDP",
      gdp_missing: "GDP is not in the run's statistics", time_series: "GEP over the years",
      parcel: "Parcel valuation", parcel_draw: "Draw a parcel", parcel_finish: "Finish", parcel_clear: "Clear",
      parcel_upload: "Upload GeoJSON / GPKG / zipped SHP", parcel_result: "Parcel value", area: "Area",
      parcel_exact: "Exact (raster)", parcel_apportioned: "Apportioned (statistics)", basis: "Basis",
      basis_raster: "raster, exact", basis_apportioned: "statistics, apportioned",
      draw_hint: "Click on the map to add vertices; double-click or press Finish to close the polygon.",
      valuing: "Valuing the parcel…", parcel_in: "in", renderer_svg: "Simple map (WebGL unavailable)",
      vendor_missing: "The map and chart libraries are missing: run `cd web && npm ci && npm run build`. A simple map is shown."
    },
    zh: {
      title: "生态产品总值核算结果", run: "核算记录", year: "年份", indicator: "指标", measure: "量纲",
      measure_value: "价值量（元）", measure_quantity: "实物量", map: "地图",
      map_hint: "点击区域查看构成并逐级下钻。", gep_total: "GEP 总值",
      yi: "亿元", wan: "万元", by_class: "按类别", by_indicator: "按指标", class: "类别",
      value_yi: "价值量（亿元）", value_wan: "价值量（万元）", share: "占比", ranking: "排名", level: "层级",
      level_province: "省", level_city: "市", level_county: "县（区）", level_township: "乡镇（街道）",
      download_csv: "下载 CSV", download_xlsx: "下载 XLSX", rank: "名次", region: "区域",
      value: "数值", per_km2: "单位面积", footer: "青山结果库只读视图。", licences: "地图与图表库的许可证",
      gep_all: "GEP（全部指标）", all_regions: "全部区域", no_data: "无数据", loading: "加载中…",
      no_runs: "结果库中没有成功的核算。请先运行 `qingshan demo` 或 `qingshan account`。",
      lang_button: "English", lang_label: "切换为英文", map_label: "区域地图", crumbs_label: "下钻路径",
      legend: "图例", gep_gdp: "GEP/GDP", gdp: "GDP", gdp_missing: "本次核算的统计表中没有 GDP",
      time_series: "历年 GEP", parcel: "地块价值评估", parcel_draw: "绘制地块", parcel_finish: "完成",
      parcel_clear: "清除", parcel_upload: "上传 GeoJSON / GPKG / SHP 压缩包", parcel_result: "地块价值",
      area: "面积", parcel_exact: "精确值（栅格）", parcel_apportioned: "分摊值（统计）", basis: "依据",
      basis_raster: "栅格，精确", basis_apportioned: "统计，分摊",
      draw_hint: "在地图上点击添加顶点；双击或点击“完成”闭合多边形。", valuing: "正在评估地块…", parcel_in: "位于",
      renderer_svg: "简易地图（WebGL 不可用）",
      vendor_missing: "地图与图表库缺失：请运行 `cd web && npm ci && npm run build`。当前显示简易地图。"
    }
  };
  const PALETTE = ["#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32"];
  const NO_DATA = "#d9d9d9";
  const BACKGROUND = "#eef3f6";
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    lang: localStorage.getItem("qingshan.lang") || ((navigator.language || "en").slice(0, 2) === "zh" ? "zh" : "en"),
    runIndicators: null, runs: [], run: null, indicators: {}, year: null, indicator: "", measure: "value",
    path: [], selected: null, features: [], summary: null, ranking: null, gdp: null, series: null,
    drawing: false, vertices: [], parcel: null
  };
  const charts = {};
  let view = null;

  const $ = (id) => document.getElementById(id);
  const t = (key) => (I18N[state.lang] || I18N.en)[key] || I18N.en[key] || key;
  const nameOf = (o) => (state.lang === "zh" ? (o.name_zh || o.name) : (o.name_en || o.name));

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
  const pct = (x) => (x === null || x === undefined ? "—" : fmt(x * 100, 1) + "%");

  function errorText(body) {
    return state.lang === "zh" ? (body.message_zh || body.message_en) : (body.message_en || body.message_zh);
  }
  function send(path, init) {
    return fetch(path, Object.assign({ headers: { Accept: "application/json" } }, init || {})).then((r) =>
      r.json().catch(() => ({})).then((body) => {
        if (!r.ok) { const e = new Error(errorText(body) || r.statusText); e.status = r.status; throw e; }
        return body;
      }));
  }
  const api = (path) => send(path);
  function showError(err) { $("status").textContent = String(err.message || err); }
  function clearStatus() { $("status").textContent = ""; }
  function query(params) {
    const parts = Object.keys(params).filter((k) => params[k] !== null && params[k] !== undefined && params[k] !== "")
      .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
    return parts.length ? "?" + parts.join("&") : "";
  }
  const runUrl = (suffix, params, run) =>
    "/api/runs/" + encodeURIComponent((run || state.run).id) + suffix + query(params || {});

  /* ---------- geometry helpers ---------- */
  function polygonsOf(geom) {
    if (!geom) { return []; }
    return geom.type === "Polygon" ? [geom.coordinates] : geom.type === "MultiPolygon" ? geom.coordinates : [];
  }
  function bboxOf(features) {
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    features.forEach((f) => polygonsOf(f.geometry).forEach((poly) => poly[0].forEach((p) => {
      b[0] = Math.min(b[0], p[0]); b[1] = Math.min(b[1], p[1]); b[2] = Math.max(b[2], p[0]); b[3] = Math.max(b[3], p[1]);
    })));
    return isFinite(b[0]) ? b : null;
  }
  function ringArea(ring) {
    let a = 0;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) { a += (ring[j][0] + ring[i][0]) * (ring[j][1] - ring[i][1]); }
    return Math.abs(a / 2);
  }
  function labelPoint(geom) {
    // centroid of the outer ring of the largest polygon (good enough for a label)
    const polys = polygonsOf(geom);
    if (!polys.length) { return null; }
    const ring = polys.reduce((best, p) => (ringArea(p[0]) > ringArea(best[0]) ? p : best))[0];
    let sx = 0, sy = 0;
    ring.forEach((p) => { sx += p[0]; sy += p[1]; });
    return [sx / ring.length, sy / ring.length];
  }

  /* ---------- colours ---------- */
  function colourScale(values) {
    const v = values.filter((x) => x !== null && x !== undefined && !isNaN(x));
    const lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
    return {
      lo: lo, hi: hi,
      colour: (x) => {
        if (x === null || x === undefined || isNaN(x)) { return NO_DATA; }
        const k = hi > lo ? Math.floor((x - lo) / (hi - lo) * (PALETTE.length - 1) + 1e-9) : PALETTE.length - 2;
        return PALETTE[Math.max(0, Math.min(PALETTE.length - 1, k))];
      }
    };
  }

  /* ---------- map renderers: same interface (render, select, project, setParcel) ---------- */
  function GlView(container, handlers) {
    const map = new maplibregl.Map({
      container: container, attributionControl: false, doubleClickZoom: false, center: [116, 27.5], zoom: 5,
      style: { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": BACKGROUND } }] }
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    const empty = { type: "FeatureCollection", features: [] };
    let hovered = null, labels = [];
    const loaded = new Promise((resolve) => map.on("load", resolve));
    loaded.then(() => {
      map.addSource("regions", { type: "geojson", data: empty, promoteId: "code" });
      map.addSource("parcel", { type: "geojson", data: empty });
      map.addLayer({ id: "regions-fill", type: "fill", source: "regions",
        paint: { "fill-color": ["get", "colour"], "fill-opacity": ["case", ["boolean", ["feature-state", "hover"], false], 1, 0.88] } });
      map.addLayer({ id: "regions-line", type: "line", source: "regions", paint: { "line-color": "#ffffff", "line-width": 1 } });
      map.addLayer({ id: "regions-hover", type: "line", source: "regions",
        paint: { "line-color": "#1d2a22", "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 2, 0] } });
      map.addLayer({ id: "regions-selected", type: "line", source: "regions", filter: ["==", ["get", "code"], ""],
        paint: { "line-color": "#f0a020", "line-width": 3 } });
      map.addLayer({ id: "parcel-fill", type: "fill", source: "parcel", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": "#1f6fd1", "fill-opacity": 0.25 } });
      map.addLayer({ id: "parcel-line", type: "line", source: "parcel", filter: ["!=", ["geometry-type"], "Point"],
        paint: { "line-color": "#1f6fd1", "line-width": 2, "line-dasharray": [2, 1] } });
      map.addLayer({ id: "parcel-points", type: "circle", source: "parcel", filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-radius": 4, "circle-color": "#ffffff", "circle-stroke-color": "#1f6fd1", "circle-stroke-width": 2 } });
    });
    map.on("mousemove", (e) => {
      const f = map.getLayer("regions-fill") ? map.queryRenderedFeatures(e.point, { layers: ["regions-fill"] })[0] : null;
      const code = f ? f.properties.code : null;
      if (hovered !== code) {
        if (hovered) { map.setFeatureState({ source: "regions", id: hovered }, { hover: false }); }
        if (code) { map.setFeatureState({ source: "regions", id: code }, { hover: true }); }
        hovered = code;
      }
      map.getCanvas().style.cursor = state.drawing ? "crosshair" : code ? "pointer" : "";
      handlers.hover(f ? f.properties.code : null, e.point);
    });
    map.on("mouseout", () => handlers.hover(null));
    map.on("click", (e) => {
      if (state.drawing) { handlers.vertex([e.lngLat.lng, e.lngLat.lat]); return; }
      const f = map.queryRenderedFeatures(e.point, { layers: ["regions-fill"] })[0];
      if (f) { handlers.region(f.properties.code); }
    });
    map.on("dblclick", (e) => { if (state.drawing) { e.preventDefault(); handlers.finish(); } });
    return {
      kind: "webgl",
      render: (features) => loaded.then(() => {
        map.getSource("regions").setData({ type: "FeatureCollection", features: features.filter((f) => f.geometry) });
        labels.forEach((m) => m.remove());
        labels = features.length <= 60 ? features.map((f) => {
          const el = document.createElement("div"); el.className = "map-label"; el.textContent = f.properties.name;
          const p = labelPoint(f.geometry);
          return p ? new maplibregl.Marker({ element: el }).setLngLat(p).addTo(map) : null;
        }).filter(Boolean) : [];
        const b = bboxOf(features);
        if (b) { map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 24, animate: false }); }
        return new Promise((resolve) => map.once("idle", resolve));
      }),
      select: (code) => loaded.then(() => map.setFilter("regions-selected", ["==", ["get", "code"], code || ""])),
      project: (p) => { const q = map.project(p); return [q.x, q.y]; },
      setParcel: (vertices, closed) => loaded.then(() => map.getSource("parcel").setData(parcelGeojson(vertices, closed))),
      resize: () => map.resize()
    };
  }

  function parcelGeojson(vertices, closed) {
    const feats = vertices.map((p) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } }));
    if (vertices.length >= 2) {
      feats.push(closed && vertices.length >= 3
        ? { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [vertices.concat([vertices[0]])] } }
        : { type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: vertices } });
    }
    return { type: "FeatureCollection", features: feats };
  }

  function SvgView(container, handlers) {
    const W = 800, H = 560, PAD = 20;
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.setAttribute("class", "map-svg");
    container.appendChild(svg);
    const regions = document.createElementNS(SVG_NS, "g"), labels = document.createElementNS(SVG_NS, "g");
    const parcel = document.createElementNS(SVG_NS, "g");
    svg.appendChild(regions); svg.appendChild(labels); svg.appendChild(parcel);
    let proj = null, inv = null;
    function setProjection(features) {
      const b = bboxOf(features);
      if (!b) { return; }
      const kx = Math.cos(((b[1] + b[3]) / 2) * Math.PI / 180);  // equirectangular, true scale at mid-latitude
      const w = Math.max((b[2] - b[0]) * kx, 1e-9), h = Math.max(b[3] - b[1], 1e-9);
      const s = Math.min((W - 2 * PAD) / w, (H - 2 * PAD) / h);
      const ox = (W - w * s) / 2, oy = (H - h * s) / 2;
      proj = (p) => [ox + (p[0] - b[0]) * kx * s, oy + (b[3] - p[1]) * s];
      inv = (q) => [b[0] + (q[0] - ox) / (kx * s), b[3] - (q[1] - oy) / s];
    }
    function pathOf(geom) {
      const d = [];
      polygonsOf(geom).forEach((poly) => poly.forEach((ring) => {
        ring.forEach((p, i) => { const q = proj(p); d.push((i ? "L" : "M") + q[0].toFixed(1) + "," + q[1].toFixed(1)); });
        d.push("Z");
      }));
      return d.join("");
    }
    function toLngLat(e) {
      const pt = svg.createSVGPoint(); pt.x = e.clientX; pt.y = e.clientY;
      const q = pt.matrixTransform(svg.getScreenCTM().inverse());
      return inv([q.x, q.y]);
    }
    svg.addEventListener("click", (e) => {
      if (state.drawing && inv) { handlers.vertex(toLngLat(e)); }  // a double-click's repeat is deduplicated
    });
    svg.addEventListener("dblclick", (e) => { if (state.drawing) { e.preventDefault(); handlers.finish(); } });
    return {
      kind: "svg",
      render: (features) => {
        setProjection(features);
        regions.innerHTML = ""; labels.innerHTML = "";
        if (!proj) { return Promise.resolve(); }
        features.forEach((f) => {
          if (!f.geometry) { return; }
          const p = f.properties;
          const path = document.createElementNS(SVG_NS, "path");
          path.setAttribute("d", pathOf(f.geometry)); path.setAttribute("fill", p.colour);
          path.setAttribute("fill-rule", "evenodd"); path.setAttribute("tabindex", "0"); path.setAttribute("role", "button");
          path.setAttribute("data-code", p.code); path.setAttribute("aria-label", p.name + ": " + fmtMetric(p.metric, p.metric_unit));
          const title = document.createElementNS(SVG_NS, "title");
          title.textContent = p.name + " — " + fmtMetric(p.metric, p.metric_unit); path.appendChild(title);
          path.addEventListener("click", () => { if (!state.drawing) { handlers.region(p.code); } });
          path.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); handlers.region(p.code); } });
          regions.appendChild(path);
          const c = labelPoint(f.geometry);
          if (c) {
            const q = proj(c), text = document.createElementNS(SVG_NS, "text");
            text.setAttribute("x", q[0].toFixed(1)); text.setAttribute("y", q[1].toFixed(1)); text.textContent = p.name;
            labels.appendChild(text);
          }
        });
        return Promise.resolve();
      },
      select: (code) => regions.querySelectorAll("path").forEach((el) =>
        el.classList.toggle("selected", el.getAttribute("data-code") === code)),
      project: (p) => {
        const q = proj(p), pt = svg.createSVGPoint(), c = container.getBoundingClientRect();
        pt.x = q[0]; pt.y = q[1];
        const s = pt.matrixTransform(svg.getScreenCTM());  // viewBox → screen (the SVG is letterboxed)
        return [s.x - c.left, s.y - c.top];
      },
      setParcel: (vertices, closed) => {
        parcel.innerHTML = "";
        if (!proj || !vertices.length) { return; }
        const pts = vertices.map(proj);
        const shape = document.createElementNS(SVG_NS, closed ? "polygon" : "polyline");
        shape.setAttribute("points", pts.map((q) => q[0].toFixed(1) + "," + q[1].toFixed(1)).join(" "));
        shape.setAttribute("class", "parcel-shape"); parcel.appendChild(shape);
        pts.forEach((q) => {
          const c = document.createElementNS(SVG_NS, "circle");
          c.setAttribute("cx", q[0]); c.setAttribute("cy", q[1]); c.setAttribute("r", 4); c.setAttribute("class", "parcel-vertex");
          parcel.appendChild(c);
        });
      },
      resize: () => undefined
    };
  }

  function createView() {
    const handlers = {
      region: (code) => { const f = state.features.find((x) => x.properties.code === code); if (f) { selectRegion(f.properties); } },
      vertex: addVertex, finish: finishParcel, hover: showTip
    };
    const wanted = new URLSearchParams(location.search).get("renderer");
    const gl = window.maplibregl && wanted !== "svg" && (typeof maplibregl.supported !== "function" || maplibregl.supported());
    const container = $("map");
    container.setAttribute("data-renderer", gl ? "webgl" : "svg");
    if (!window.maplibregl || !window.echarts) {  // the npm build was not run: say so, keep a working page
      const warn = document.createElement("p"); warn.id = "vendor-warning"; warn.className = "status";
      warn.setAttribute("role", "alert"); warn.textContent = t("vendor_missing");
      $("status").before(warn);
    }
    try {
      return gl ? GlView(container, handlers) : SvgView(container, handlers);
    } catch (err) {  // WebGL context creation can still fail: fall back to SVG
      container.innerHTML = ""; container.setAttribute("data-renderer", "svg");
      return SvgView(container, handlers);
    }
  }

  function showTip(code, point) {
    const tip = $("map-tip");
    const f = code && state.features.find((x) => x.properties.code === code);
    if (!f || state.drawing) { tip.hidden = true; return; }
    tip.textContent = f.properties.name + " — " + fmtMetric(f.properties.metric, f.properties.metric_unit);
    tip.style.left = (point.x + 12) + "px"; tip.style.top = (point.y + 12) + "px"; tip.hidden = false;
  }

  /* ---------- language ---------- */
  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.getAttribute("data-i18n")); });
    $("lang").textContent = t("lang_button");
    $("lang").setAttribute("aria-label", t("lang_label"));
    $("map").setAttribute("aria-label", t("map_label"));
    $("crumbs").setAttribute("aria-label", t("crumbs_label"));
    if (state.drawing) { $("map-hint").textContent = t("draw_hint"); }
    fillIndicators();
    renderCrumbs(); renderLegend(); renderPanel(); renderRanking(); renderSeries(); renderParcel();
    const warn = $("vendor-warning");
    if (warn) { warn.textContent = t("vendor_missing"); }
  }

  /* ---------- controls ---------- */
  function fillRuns() {
    const sel = $("run"); sel.innerHTML = "";
    state.runs.forEach((r) => {
      const o = document.createElement("option"); o.value = r.id; o.textContent = r.name + " (" + r.years.join(", ") + ")" + (r.example ? " · 示例数据 example data" : "");
      sel.appendChild(o);
    });
  }
  function fillYears() {
    const sel = $("year"); sel.innerHTML = "";
    state.run.years.slice().sort().forEach((y) => {
      const o = document.createElement("option"); o.value = y; o.textContent = y; sel.appendChild(o);
    });
    sel.value = state.year;
  }
  function fillIndicators() {
    const sel = $("indicator"); sel.innerHTML = "";
    const o = document.createElement("option"); o.value = ""; o.textContent = t("gep_all"); sel.appendChild(o);
    Object.keys(state.indicators).forEach((id) => {
      if (state.runIndicators && state.runIndicators.indexOf(id) < 0) { return; }
      const opt = document.createElement("option"); opt.value = id; opt.textContent = nameOf(state.indicators[id]);
      sel.appendChild(opt);
    });
    sel.value = state.indicator;
    $("measure-quantity").disabled = !state.indicator;
  }

  /* ---------- map ---------- */
  function paintMap() {
    const scale = colourScale(state.features.map((f) => f.properties.metric));
    state.scale = scale;
    state.features.forEach((f) => { f.properties.colour = scale.colour(f.properties.metric); });
    renderLegend();
    return view.render(state.features).then(() => {
      view.select(state.selected);
      view.setParcel(state.vertices, !state.drawing);
    });
  }
  function renderLegend() {
    const el = $("legend"); el.innerHTML = "";
    const scale = state.scale, unit = state.features.length ? state.features[0].properties.metric_unit : "CNY";
    if (!scale) { return; }
    if (!isFinite(scale.lo)) { el.textContent = t("no_data"); return; }
    const lab = document.createElement("span"); lab.textContent = t("legend") + ": " + fmtMetric(scale.lo, unit); el.appendChild(lab);
    PALETTE.forEach((c) => {
      const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = c; el.appendChild(sw);
    });
    const hi = document.createElement("span"); hi.textContent = fmtMetric(scale.hi, unit); el.appendChild(hi);
    if (view && view.kind === "svg") {
      const note = document.createElement("span"); note.className = "muted"; note.textContent = "· " + t("renderer_svg");
      el.appendChild(note);
    }
  }
  function renderCrumbs() {
    const nav = $("crumbs"); nav.innerHTML = "";
    const items = [{ name: t("all_regions"), depth: 0 }].concat(state.path.map((p, i) => ({ name: p.name, depth: i + 1 })));
    items.forEach((it, i) => {
      if (i) { const s = document.createElement("span"); s.className = "sep"; s.textContent = "›"; nav.appendChild(s); }
      const b = document.createElement("button"); b.type = "button"; b.textContent = it.name;
      b.addEventListener("click", () => { state.path = state.path.slice(0, it.depth); loadMap(); });
      nav.appendChild(b);
    });
  }

  /* ---------- charts ---------- */
  function chart(id) {
    if (!window.echarts) { $(id).hidden = true; return null; }
    if (!charts[id]) { charts[id] = echarts.init($(id), null, { renderer: "svg" }); }
    return charts[id];
  }
  const AXIS = { axisLabel: { color: "#5b6b61" }, axisLine: { lineStyle: { color: "#d5ddd7" } } };
  function barOption(names, values, unitLabel) {
    return {
      animation: false, grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => fmt(v, 2) + " " + unitLabel },
      xAxis: Object.assign({ type: "value" }, AXIS),
      yAxis: Object.assign({ type: "category", data: names, inverse: true }, AXIS),
      series: [{ type: "bar", data: values, itemStyle: { color: "#2f7d4f" },
        label: { show: true, position: "right", formatter: (p) => fmt(p.value, 2), color: "#1d2a22" } }]
    };
  }

  /* ---------- region panel ---------- */
  function renderPanel() {
    const s = state.summary;
    if (!s) { return; }
    $("panel-name").textContent = s.region.name;
    $("panel-level").textContent = t("level_" + s.region.level);
    $("panel-gep").textContent = fmt(s.total_yi, 2);
    const cls = $("class-table").querySelector("tbody"); cls.innerHTML = "";
    s.by_category.forEach((c) => cls.appendChild(row([nameOf(c), fmt(c.value / 1e8, 2), pct(c.share)])));
    const ind = $("indicator-table").querySelector("tbody"); ind.innerHTML = "";
    s.by_indicator.forEach((i) => ind.appendChild(row([nameOf(i), i.value === null ? "—" : fmt(i.value / 1e8, 2), pct(i.share)])));
    const pie = chart("chart-class");
    if (pie) {
      pie.setOption({
        animation: false, color: ["#c9a227", "#2f7d4f", "#3a78b5"],
        tooltip: { trigger: "item", valueFormatter: (v) => fmt(v, 2) + " " + t("yi") },
        legend: { orient: "vertical", right: 0, top: "middle", textStyle: { color: "#1d2a22" } },
        series: [{ type: "pie", radius: ["35%", "70%"], center: ["35%", "50%"], label: { show: false },
          data: s.by_category.map((c) => ({ name: nameOf(c), value: c.value === null ? 0 : c.value / 1e8 })) }]
      }, true);
    }
    const bar = chart("chart-indicator");
    if (bar) {
      const items = s.by_indicator.filter((i) => i.value !== null);
      bar.setOption(barOption(items.map(nameOf), items.map((i) => i.value / 1e8), t("yi")), true);
    }
    renderGdp();
  }
  function renderGdp() {
    const g = state.gdp;
    $("panel-gdp-ratio").textContent = g && g.gep_gdp_ratio !== null ? fmt(g.gep_gdp_ratio, 2) : "—";
    $("panel-gdp").textContent = g && g.gdp !== null ? "(" + t("gdp") + " " + fmt(g.gdp / 1e8, 2) + " " + t("yi") + ")"
      : "(" + t("gdp_missing") + ")";
  }
  function renderSeries() {
    const c = chart("chart-series"), s = state.series;
    if (!c || !s) { return; }
    const years = Array.from(new Set([].concat.apply([], s.map((x) => x.points.map((p) => p[0]))))).sort();
    c.setOption({
      animation: false, grid: { left: 8, right: 16, top: 48, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: (v) => fmt(v, 2) + " " + t("yi") },
      legend: { top: 0, type: "scroll", textStyle: { color: "#1d2a22" } },
      xAxis: Object.assign({ type: "category", data: years.map(String) }, AXIS),
      yAxis: Object.assign({ type: "value", name: t("yi"), nameTextStyle: { color: "#5b6b61" } }, AXIS),
      series: s.map((x) => ({ type: "line", name: x.name, symbolSize: 8,
        data: years.map((y) => { const p = x.points.find((q) => q[0] === y); return p ? p[1] : null; }) }))
    }, true);
  }
  function row(cells, numeric) {
    const tr = document.createElement("tr");
    cells.forEach((c, i) => {
      const td = document.createElement("td"); td.textContent = c;
      if (numeric ? numeric[i] : i > 0) { td.className = "num"; }
      tr.appendChild(td);
    });
    return tr;
  }

  /* ---------- ranking ---------- */
  const rankingParams = () => ({ level: $("rank-level").value, year: state.year, indicator: state.indicator, measure: state.measure });
  function renderRanking() {
    const r = state.ranking, body = $("ranking-table").querySelector("tbody"); body.innerHTML = "";
    if (!r) { return; }
    $("rank-value-head").textContent = t("value") + " (" + (r.unit === "CNY" ? t("yi") : r.unit) + ")";
    r.rows.forEach((x) => {
      const v = x.value === null ? "—" : r.unit === "CNY" ? fmt(x.value / 1e8, 2) : fmt(x.value, 0);
      const per = x.per_km2 === null ? "—" : r.unit === "CNY" ? fmt(x.per_km2 / 1e4, 1) + " " + t("wan") : fmt(x.per_km2, 1);
      body.appendChild(row([String(x.rank), x.name, v, per], [true, false, true, true]));
    });
  }
  function loadRanking() {
    const p = rankingParams();
    $("csv").href = runUrl("/ranking", Object.assign({}, p, { format: "csv" }));
    $("xlsx").href = runUrl("/ranking", Object.assign({}, p, { format: "xlsx" }));
    return api(runUrl("/ranking", p)).then((r) => { state.ranking = r; renderRanking(); }).catch(showError);
  }

  /* ---------- parcel ---------- */
  function startDrawing() {
    state.drawing = true; state.vertices = []; state.parcel = null;
    $("parcel-finish").disabled = true; $("map-hint").textContent = t("draw_hint");
    $("parcel-draw").classList.add("active");
    view.setParcel([], false); renderParcel();
  }
  function addVertex(p) {
    state.vertices.push(p);
    $("parcel-finish").disabled = state.vertices.length < 3;
    view.setParcel(state.vertices, false);
  }
  function dedupe(vertices) {
    return vertices.filter((p, i) => {
      const q = vertices[(i + vertices.length - 1) % vertices.length];
      return i === 0 || Math.abs(p[0] - q[0]) > 1e-9 || Math.abs(p[1] - q[1]) > 1e-9;
    });
  }
  function stopDrawing() {
    state.drawing = false; $("parcel-finish").disabled = true;
    $("parcel-draw").classList.remove("active"); $("map-hint").textContent = t("map_hint");
  }
  function finishParcel() {
    const vertices = dedupe(state.vertices);
    if (vertices.length < 3) { return; }
    state.vertices = vertices; stopDrawing();
    view.setParcel(vertices, true);
    const feature = { type: "Feature", properties: {},
      geometry: { type: "Polygon", coordinates: [vertices.concat([vertices[0]])] } };
    valueParcel({ method: "POST", body: JSON.stringify(feature), headers: { Accept: "application/json", "Content-Type": "application/json" } });
  }
  function uploadParcel(file) {
    const form = new FormData(); form.append("file", file, file.name);
    stopDrawing(); state.vertices = []; view.setParcel([], false);
    valueParcel({ method: "POST", body: form, headers: { Accept: "application/json" } });
  }
  function valueParcel(init) {
    $("status").textContent = t("valuing");
    return send(runUrl("/parcel", { year: state.year }), init)
      .then((body) => { state.parcel = body; clearStatus(); renderParcel(); $("parcel-panel").scrollIntoView({ block: "nearest" }); })
      .catch((err) => { state.parcel = null; renderParcel(); showError(err); });
  }
  function clearParcel() {
    stopDrawing(); state.vertices = []; state.parcel = null; $("parcel-file").value = "";
    view.setParcel([], false); renderParcel(); clearStatus();
  }
  function renderParcel() {
    const p = state.parcel, panel = $("parcel-panel");
    panel.hidden = !p;
    if (!p) { return; }
    $("parcel-gep").textContent = fmt(p.gep / 1e4, 2);
    $("parcel-area").textContent = fmt(p.area_km2, 3);
    $("parcel-exact").textContent = fmt(p.exact_value / 1e4, 2);
    $("parcel-apportioned").textContent = fmt(p.apportioned_value / 1e4, 2);
    $("parcel-regions").textContent = p.regions.length ? t("parcel_in") + " " + p.regions.map((r) => r.name).join("、") : "";
    const body = $("parcel-table").querySelector("tbody"); body.innerHTML = "";
    p.by_indicator.forEach((i) => body.appendChild(row([nameOf(i), t("basis_" + i.basis),
      i.value === null ? "—" : fmt(i.value / 1e4, 2), pct(i.share)], [false, false, true, true])));
    const notes = [state.lang === "zh" ? p.method_note_zh : p.method_note_en]
      .concat(p.notes.map((n) => (state.lang === "zh" ? n.zh : n.en)));
    $("parcel-note").textContent = notes.join(" ");
    const c = chart("chart-parcel");
    if (c) {
      const items = p.by_indicator.filter((i) => i.value !== null);
      c.setOption(barOption(items.map(nameOf), items.map((i) => i.value / 1e4), t("wan")), true);
      c.resize();
    }
  }

  /* ---------- data flow ---------- */
  function loadMap() {
    const parent = state.path.length ? state.path[state.path.length - 1].code : null;
    renderCrumbs();
    $("map").removeAttribute("data-ready");
    return api(runUrl("/regions", { parent: parent, year: state.year, indicator: state.indicator, measure: state.measure }))
      .then((fc) => { state.features = fc.features; clearStatus(); return paintMap(); })
      .then(() => $("map").setAttribute("data-ready", "true"))
      .catch(showError);
  }
  function loadSummary(code) {
    return api(runUrl("/summary", { region: code, year: state.year })).then((s) => {
      state.summary = s; state.selected = s.region.code;
      loadGdp(s.region.code); loadSeries(s.region.code);
      renderPanel(); return s;
    });
  }
  function loadGdp(code) {
    state.gdp = null;
    return api(runUrl("/gdp", { region: code, year: state.year }))
      .then((g) => { state.gdp = g; }, () => { state.gdp = null; }).then(renderGdp);
  }
  function loadSeries(code) {
    // this run's years plus any other run holding the same region (at most 8 runs)
    const runs = [state.run].concat(state.runs.filter((r) => r.id !== state.run.id).slice(0, 7));
    return Promise.all(runs.map((run) => Promise.all(run.years.map((y) =>
      api(runUrl("/summary", { region: code, year: y }, run)).then((s) => [y, s.total_yi], () => null)))
      .then((points) => ({ name: run.name, points: points.filter(Boolean) }))))
      .then((series) => { state.series = series.filter((s) => s.points.length); renderSeries(); });
  }
  function selectRegion(props) {
    loadSummary(props.code).then((s) => {
      if (s.children.length && state.path.every((p) => p.code !== props.code)) {
        state.path.push({ code: props.code, name: props.name });
        return loadMap();
      }
      view.select(state.selected);
    }).catch(showError);
  }
  function reloadAll() {
    return Promise.all([loadMap(), loadRanking(), loadSummary(state.summary ? state.summary.region.code : null).catch(showError)]);
  }
  function chooseRun(id) {
    state.run = state.runs.find((r) => r.id === id);
    state.year = Math.max.apply(null, state.run.years);
    state.path = []; state.summary = null; state.selected = null; state.runIndicators = null;
    clearParcel(); fillYears();
    return reloadAll().then(() => {
      if (state.summary) { state.runIndicators = state.summary.by_indicator.map((i) => i.indicator); fillIndicators(); }
    });
  }

  function bindControls() {
    $("lang").addEventListener("click", () => {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem("qingshan.lang", state.lang);
      applyLanguage();
    });
    $("run").addEventListener("change", (e) => chooseRun(e.target.value));
    $("year").addEventListener("change", (e) => { state.year = Number(e.target.value); reloadAll(); });
    $("indicator").addEventListener("change", (e) => {
      state.indicator = e.target.value;
      if (!state.indicator && state.measure === "quantity") {
        state.measure = "value"; document.querySelector("input[name=measure][value=value]").checked = true;
      }
      $("measure-quantity").disabled = !state.indicator;
      loadMap(); loadRanking();
    });
    document.querySelectorAll("input[name=measure]").forEach((el) =>
      el.addEventListener("change", () => { state.measure = el.value; loadMap(); loadRanking(); }));
    $("rank-level").addEventListener("change", loadRanking);
    $("parcel-draw").addEventListener("click", startDrawing);
    $("parcel-finish").addEventListener("click", finishParcel);
    $("parcel-clear").addEventListener("click", clearParcel);
    $("parcel-file").addEventListener("change", (e) => { if (e.target.files.length) { uploadParcel(e.target.files[0]); } });
    window.addEventListener("resize", () => { Object.keys(charts).forEach((k) => charts[k].resize()); view.resize(); });
  }

  function init() {
    view = createView();
    // test and automation hook: which renderer, and where a lon/lat is in the map's pixels
    window.qingshanDashboard = { renderer: view.kind, project: (lng, lat) => view.project([lng, lat]), state: state };
    bindControls();
    applyLanguage();
    if (!$("status").textContent) { $("status").textContent = t("loading"); }
    Promise.all([api("/api/indicators"), api("/api/runs")]).then((res) => {
      res[0].forEach((s) => { state.indicators[s.id] = s; });
      fillIndicators();
      state.runs = res[1];
      if (!state.runs.length) { $("status").textContent = t("no_runs"); return; }
      fillRuns();
      return chooseRun(state.runs[0].id);
    }).catch(showError);
  }

  document.addEventListener("DOMContentLoaded", init);
}());
