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
      vendor_missing: "The map and chart libraries are missing: run `cd web && npm ci && npm run build`. A simple map is shown.",
      view: "View", view_value: "Values", view_change: "Change (growth %)", view_per_km2: "Per km²",
      view_per_capita: "Per capita", compare: "Compared with", this_run: "this run",
      report_pdf: "GEP report (PDF)", report_docx: "GEP report (Word)", parcel_report: "Download report (PDF)",
      by_ecosystem: "By ecosystem", ecosystem: "Ecosystem", physical: "Physical quantities", component: "Component",
      quantity: "Quantity", unit: "Unit", compensation_link: "Eco-compensation", growth: "Growth",
      value_from: "Value", rank_scope: "Regions of", per_capita: "Per capita", population: "Population",
      comparable_prices: "at comparable prices", current_prices: "at current prices",
      no_compare: "Nothing to compare with: this run has one year and no other published run covers it.",
      no_population: "Population is not in the run's statistics (item population, unit 人 or 万人): no per-capita view.",
      reporting: "Preparing the report…", fix: "Fix", yuan_per_person: "CNY per person", wan_per_km2: "10⁴ CNY per km²",
      per_km2_of: "per km²", download_started: "Report downloaded."
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
      vendor_missing: "地图与图表库缺失：请运行 `cd web && npm ci && npm run build`。当前显示简易地图。",
      view: "视图", view_value: "总量", view_change: "变化（增长率）", view_per_km2: "地均（每平方千米）",
      view_per_capita: "人均", compare: "对比", this_run: "本次核算",
      report_pdf: "GEP 核算报告（PDF）", report_docx: "GEP 核算报告（Word）", parcel_report: "下载评估报告（PDF）",
      by_ecosystem: "按生态系统", ecosystem: "生态系统", physical: "实物量", component: "组分",
      quantity: "实物量", unit: "单位", compensation_link: "生态补偿", growth: "增长率",
      value_from: "价值量", rank_scope: "下辖区域：", per_capita: "人均", population: "人口",
      comparable_prices: "可比价", current_prices: "当年价",
      no_compare: "无可对比的数据：本次核算只有一年，且没有其他已发布的核算覆盖同一地区。",
      no_population: "本次核算的统计表中没有人口（item 为 population，单位为 人 或 万人），无法显示人均值。",
      reporting: "正在生成报告…", fix: "解决办法", yuan_per_person: "元/人", wan_per_km2: "万元/平方千米",
      per_km2_of: "每平方千米", download_started: "报告已下载。"
    }
  };
  const PALETTE = ["#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32"];
  const DIVERGING = ["#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d9f0d3", "#7fbf7b", "#1b7837"];  // decline → growth
  const LEVELS = ["province", "city", "county", "township"];
  // units of the physical quantities, for the labels (id → [en, zh]); others are shown as given
  const UNITS = { t: ["t", "吨"], "万t": ["10⁴ t", "万吨"], m3: ["m³", "立方米"], tCO2: ["t CO₂", "吨 CO₂"], tO2: ["t O₂", "吨 O₂"],
    kWh: ["kWh", "千瓦时"], visit: ["visits", "人次"], visits: ["visits", "人次"], hm2: ["hm²", "公顷"], km2: ["km²", "平方千米"],
    kg: ["kg", "千克"], mu: ["mu", "亩"], "person-time": ["visits", "人次"], CNY: ["CNY", "元"], ion: ["ions", "个"],
    ions: ["ions", "个"], MWh: ["MWh", "兆瓦时"], "m3/s": ["m³/s", "立方米/秒"] };
  // products reported in the statistics table that the catalogue does not name (id → [en, zh])
  const PRODUCTS = { rice: ["Rice", "稻谷"], wheat: ["Wheat", "小麦"], corn: ["Maize", "玉米"], vegetables: ["Vegetables", "蔬菜"],
    fruit: ["Fruit", "水果"], tea: ["Tea", "茶叶"], timber: ["Timber", "木材"], fish: ["Aquatic products", "水产品"],
    pork: ["Pork", "猪肉"], oil_crops: ["Oil crops", "油料"] };
  const NO_DATA = "#d9d9d9";
  const BACKGROUND = "#eef3f6";
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    lang: localStorage.getItem("qingshan.lang") || ((navigator.language || "en").slice(0, 2) === "zh" ? "zh" : "en"),
    runIndicators: null, runs: [], run: null, indicators: {}, year: null, indicator: "", measure: "value",
    path: [], selected: null, features: [], summary: null, ranking: null, gdp: null, series: null,
    drawing: false, vertices: [], parcel: null, parcelBody: null,
    view: "value", compare: "", change: null, changeKey: "", population: null, populationYear: null
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
    if (x === null || x === undefined || (typeof x === "number" && isNaN(x))) { return t("no_data"); }
    if (unit === "CNY") { return fmt(x / 1e8, 2) + " " + t("yi"); }
    if (unit === "%") { return (x > 0 ? "+" : "") + fmt(x, 1) + "%"; }
    if (unit === "CNY/km2") { return fmt(x / 1e4, 1) + " " + t("wan_per_km2"); }
    if (unit === "CNY/person") { return fmt(x, 0) + " " + t("yuan_per_person"); }
    if (/\/km2$/.test(unit)) { return fmt(x, 1) + " " + unitName(unit.slice(0, -4)) + "/km²"; }
    return fmt(x, 0) + " " + unitName(unit);
  }
  const pct = (x) => (x === null || x === undefined ? "—" : fmt(x * 100, 1) + "%");

  function errorText(body) {
    const msg = state.lang === "zh" ? (body.message_zh || body.message_en) : (body.message_en || body.message_zh);
    const fix = state.lang === "zh" ? (body.fix_zh || body.fix) : (body.fix || body.fix_zh);
    return msg && fix ? msg + " " + t("fix") + (state.lang === "zh" ? "：" : ": ") + fix : msg;
  }
  function unitName(u) { const x = UNITS[u]; return x ? x[state.lang === "zh" ? 1 : 0] : u; }
  function componentName(indicator, component) {
    const spec = state.indicators[indicator], c = spec && (spec.components || []).find((x) => x.id === component);
    const p = PRODUCTS[component];
    return c ? nameOf(c) : p ? p[state.lang === "zh" ? 1 : 0] : component;
  }
  function send(path, init) {
    return fetch(path, Object.assign({ headers: { Accept: "application/json" } }, init || {})).then((r) =>
      r.json().catch(() => ({})).then((body) => {
        if (!r.ok) { const e = new Error(errorText(body) || r.statusText); e.status = r.status; e.body = body; throw e; }
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
  function divergingScale(values) {
    // symmetric around 0: red for decline, green for growth (growth in %)
    const v = values.filter((x) => x !== null && x !== undefined && !isNaN(x));
    const m = v.length ? Math.max.apply(null, v.map(Math.abs)) : NaN;
    const n = DIVERGING.length, mid = (n - 1) / 2;
    return {
      lo: m > 0 ? -m : 0, hi: m > 0 ? m : 0, palette: DIVERGING,
      colour: (x) => {
        if (x === null || x === undefined || isNaN(x)) { return NO_DATA; }
        if (!(m > 0)) { return DIVERGING[mid]; }
        const k = Math.round(mid + (x / m) * mid);
        return DIVERGING[Math.max(0, Math.min(n - 1, k))];
      }
    };
  }
  function colourScale(values) {
    const v = values.filter((x) => x !== null && x !== undefined && !isNaN(x));
    const lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
    return {
      lo: lo, hi: hi, palette: PALETTE,
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
    if (state.run) { fillCompare(); setReportLinks(); }
    Object.keys(parcelMessages).forEach((id) => parcelMessage(id, parcelMessages[id][0], parcelMessages[id][1]));
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
    decorate(state.features);
    const values = state.features.map((f) => f.properties.metric);
    const scale = state.view === "change" ? divergingScale(values) : colourScale(values);
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
    scale.palette.forEach((c) => {
      const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = c; el.appendChild(sw);
    });
    const hi = document.createElement("span"); hi.textContent = fmtMetric(scale.hi, unit); el.appendChild(hi);
    const what = viewCaption();
    if (what) { const c = document.createElement("span"); c.className = "muted"; c.textContent = "· " + what; el.appendChild(c); }
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
      b.addEventListener("click", () => { state.path = state.path.slice(0, it.depth); drill(); });
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
    renderGdp(); renderPanelChange(); renderUncertainty(s.region.code);
  }
  function renderPanelChange() {
    // in the change view, the growth of the region shown in the panel
    const el = $("panel-change"), s = state.summary, c = state.change && s && state.change.by[s.region.code];
    el.hidden = state.view !== "change" || !c;
    if (el.hidden) { return; }
    el.textContent = t("growth") + " " + compareLabel(state.compare) + " → " + state.year + ": " +
      fmtMetric(c.growth, "%") + " (" + (state.change.comparable ? t("comparable_prices") : t("current_prices")) + ")";
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

  /* ---------- views: change, per km², per capita ---------- */
  function currentParent() { return state.path.length ? state.path[state.path.length - 1] : null; }
  function viewCaption() {
    if (state.view === "change") {
      const c = state.change;
      return c ? t("growth") + " " + (c.comparable ? t("comparable_prices") : t("current_prices")) + ": " + compareLabel(state.compare) +
        " → " + state.year : "";
    }
    if (state.view === "per_km2") { return t("view_per_km2"); }
    if (state.view === "per_capita") { return t("view_per_capita") + " (" + t("population") + ")"; }
    return "";
  }
  function compareOptions() {
    const opts = [];
    state.run.years.filter((y) => y !== state.year).sort().reverse()
      .forEach((y) => opts.push({ key: "year:" + y, label: y + " (" + t("this_run") + ")" }));
    state.runs.filter((r) => r.id !== state.run.id).forEach((r) => r.years.slice().sort().reverse()
      .forEach((y) => opts.push({ key: "run:" + r.id + ":" + y, label: r.name + " · " + y })));
    return opts;
  }
  function compareLabel(key) {
    const o = compareOptions().find((x) => x.key === key);
    return o ? o.label : "";
  }
  function fillCompare() {
    const sel = $("compare"), opts = compareOptions(); sel.innerHTML = "";
    opts.forEach((o) => { const el = document.createElement("option"); el.value = o.key; el.textContent = o.label; sel.appendChild(el); });
    if (!opts.some((o) => o.key === state.compare)) {
      // default: the latest earlier year of this run, else the first other run
      const earlier = opts.find((o) => o.key.indexOf("year:") === 0 && Number(o.key.slice(5)) < state.year);
      state.compare = earlier ? earlier.key : (opts.length ? opts[0].key : "");
    }
    sel.value = state.compare;
    $("compare-wrap").hidden = state.view !== "change";
  }
  function changeUrl() {
    const parts = state.compare.split(":");
    const p = parts[0] === "year" ? { from: parts[1], to: state.year } : { against: parts[1], from: parts[2], to: state.year };
    return runUrl("/change", p);
  }
  function loadChange() {
    if (state.view !== "change") { return Promise.resolve(); }
    if (!state.compare) { state.change = null; return Promise.reject(new Error(t("no_compare"))); }
    const url = changeUrl();
    if (state.change && state.changeKey === url) { return Promise.resolve(); }
    return api(url).then((body) => {
      // one entry per region for the chosen indicator (or GEP), at comparable prices when both sides have them
      const key = state.indicator || "GEP";
      const rows = body.changes.filter((r) => r.indicator === key);
      const comparable = rows.some((r) => r.comparable_0 > 0 && r.comparable_1 > 0);
      const by = {};
      rows.forEach((r) => {
        by[r.region_code] = comparable
          ? { v0: r.comparable_0, v1: r.comparable_1, growth: r.comparable_growth_pct }
          : { v0: r.value_0, v1: r.value_1, growth: r.value_growth_pct };
      });
      state.change = { comparable: comparable, by: by, from: body.from_side, to: body.to_side, indicator: key };
      state.changeKey = url;
    });
  }
  function loadPopulation() {
    if (state.view !== "per_capita" || (state.population && state.populationYear === state.year)) { return Promise.resolve(); }
    return api(runUrl("/population", { year: state.year })).then((body) => {
      state.population = {}; state.populationYear = state.year;
      body.rows.forEach((r) => { state.population[r.code] = r.population; });
      if (!body.rows.length) { throw new Error(t("no_population")); }
    });
  }
  function loadViewData() {
    return Promise.all([loadChange(), loadPopulation()]);
  }
  function viewValue(code, metric, area, unit) {
    // the number shown for a region in the current view, and its unit
    if (state.view === "change") {
      const c = state.change && state.change.by[code];
      return [c && c.growth !== null && c.growth !== undefined ? c.growth : null, "%"];
    }
    if (metric === null || metric === undefined) { return [null, unit]; }
    if (state.view === "per_km2") {
      return [area ? metric / area : null, unit === "CNY" ? "CNY/km2" : unit + "/km2"];
    }
    if (state.view === "per_capita") {
      const p = state.population && state.population[code];
      return [p && unit === "CNY" ? metric / p : null, "CNY/person"];
    }
    return [metric, unit];
  }
  function decorate(features) {
    features.forEach((f) => {
      const p = f.properties;
      if (p.base_metric === undefined) { p.base_metric = p.metric; p.base_unit = p.metric_unit; }
      const v = viewValue(p.code, p.base_metric, p.area_km2, p.base_unit);
      p.metric = v[0]; p.metric_unit = v[1];
    });
  }

  /* ---------- ranking (the children of the region viewed, or a level of the whole run) ---------- */
  function rankingParams() {
    const parent = currentParent();
    const level = parent ? LEVELS[LEVELS.indexOf(parent.level) + 1] || $("rank-level").value : $("rank-level").value;
    return { level: level, parent: parent ? parent.code : null, year: state.year, indicator: state.indicator,
      measure: state.view === "value" || state.view === "per_km2" ? state.measure : "value" };
  }
  function rankingColumns(unit) {
    const u = unit === "CNY" ? t("yi") : unitName(unit);
    if (state.view === "change") {
      // sides are "run/year": the year alone within one run, "run/year" against another run
      const c = state.change, against = state.compare.indexOf("run:") === 0;
      const side = (s) => (against ? s || "" : (s || "").split("/")[1] || "");
      return [t("rank"), t("region"), t("value_from") + " " + (c ? side(c.from) : "") + " (" + t("yi") + ")",
        t("value_from") + " " + (c ? side(c.to) : "") + " (" + t("yi") + ")",
        t("growth") + " (%, " + (c && !c.comparable ? t("current_prices") : t("comparable_prices")) + ")"];
    }
    if (state.view === "per_km2") { return [t("rank"), t("region"), t("value") + " (" + u + ")", t("per_km2") + " (" + (unit === "CNY" ? t("wan") : u) + ")"]; }
    if (state.view === "per_capita") { return [t("rank"), t("region"), t("value") + " (" + u + ")", t("population"), t("per_capita") + " (" + t("yuan_per_person") + ")"]; }
    return [t("rank"), t("region"), t("value") + " (" + u + ")", t("per_km2") + (unit === "CNY" ? " (" + t("wan") + ")" : "")];
  }
  function rankingRows() {
    // [sort key, cells] for the current view; sorted descending, missing values last
    const r = state.ranking, cny = r.unit === "CNY";
    const val = (x) => (x === null || x === undefined ? "—" : cny ? fmt(x / 1e8, 2) : fmt(x, 0));
    const perKm2 = (x) => (x === null || x === undefined ? "—" : cny ? fmt(x / 1e4, 1) : fmt(x, 1));
    const rows = r.rows.map((x) => {
      if (state.view === "change") {
        const c = state.change && state.change.by[x.code];
        const g = c ? c.growth : null;
        return [g, [x.name, c ? fmt(c.v0 / 1e8, 2) : "—", c ? fmt(c.v1 / 1e8, 2) : "—",
          g === null || g === undefined ? "—" : (g > 0 ? "+" : "") + fmt(g, 2) + "%"]];
      }
      if (state.view === "per_km2") { return [x.per_km2, [x.name, val(x.value), perKm2(x.per_km2)]]; }
      if (state.view === "per_capita") {
        const p = state.population && state.population[x.code];
        const pc = p && cny && x.value !== null ? x.value / p : null;
        return [pc, [x.name, val(x.value), p ? fmt(p, 0) : "—", pc === null ? "—" : fmt(pc, 0)]];
      }
      return [x.value, [x.name, val(x.value), perKm2(x.per_km2)]];
    });
    const missing = (v) => v === null || v === undefined || isNaN(v);
    rows.sort((a, b) => (missing(a[0]) ? 1 : 0) - (missing(b[0]) ? 1 : 0) || (missing(a[0]) ? 0 : b[0] - a[0]));
    return rows.map((x, i) => [String(i + 1)].concat(x[1]));
  }
  function renderRanking() {
    const r = state.ranking, body = $("ranking-table").querySelector("tbody"), head = $("ranking-head");
    body.innerHTML = ""; head.innerHTML = "";
    const parent = currentParent();
    $("rank-scope").textContent = parent ? t("rank_scope") + " " + parent.name : "";
    $("rank-level").disabled = !!parent;
    if (!r) { return; }
    $("rank-level").value = r.level;
    rankingColumns(r.unit).forEach((c, i) => {
      const th = document.createElement("th"); th.scope = "col"; th.textContent = c;
      if (i !== 1) { th.className = "num"; }
      head.appendChild(th);
    });
    rankingRows().forEach((cells) => body.appendChild(row(cells, cells.map((_, i) => i !== 1))));
    const own = state.view !== "value";  // views computed in the browser export what the screen shows
    $("csv").hidden = own; $("xlsx").hidden = own; $("change-csv").hidden = !own;
  }
  function csvCell(x) { const v = String(x); return /[",\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }
  function downloadBlob(blob, name) {
    const a = document.createElement("a"), url = URL.createObjectURL(blob);
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  function exportRanking() {
    if (!state.ranking) { return; }
    const lines = [rankingColumns(state.ranking.unit)].concat(rankingRows().map((cells) =>
      cells.map((c) => c.replace(/[\u00a0\u202f,]/g, "").replace(/^\+/, ""))));  // plain numbers, no grouping
    const text = "\ufeff" + lines.map((l) => l.map(csvCell).join(",")).join("\r\n") + "\r\n";  // BOM: Excel reads Chinese
    downloadBlob(new Blob([text], { type: "text/csv;charset=utf-8" }),
      "qingshan-" + state.view + "-" + state.run.id.slice(0, 8) + "-" + rankingParams().level + "-" + state.year + ".csv");
  }
  function loadRanking() {
    const p = rankingParams();
    $("csv").href = runUrl("/ranking", Object.assign({}, p, { format: "csv" }));
    $("xlsx").href = runUrl("/ranking", Object.assign({}, p, { format: "xlsx" }));
    const key = JSON.stringify([state.run.id, state.view, p]);
    state.rankingKey = key;
    return api(runUrl("/ranking", p)).then((r) => {
      if (state.rankingKey !== key) { return; }  // a later drill or choice won
      state.ranking = r; return loadViewData().then(renderRanking);
    }).catch((err) => { renderRanking(); showError(err); });
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
    valueParcel({ body: () => JSON.stringify(feature), type: "application/json" });
  }
  function uploadParcel(file) {
    stopDrawing(); state.vertices = []; view.setParcel([], false);
    valueParcel({ body: () => { const form = new FormData(); form.append("file", file, file.name); return form; }, type: null });
  }
  function parcelInit(parcel, accept) {
    const headers = { Accept: accept };
    if (parcel.type) { headers["Content-Type"] = parcel.type; }
    return { method: "POST", body: parcel.body(), headers: headers };
  }
  const parcelMessages = {};
  function parcelMessage(id, what, isError) {
    // messages of the parcel tools are shown next to them, where the user is looking; ``what`` is an
    // i18n key, an Error (with the API's bilingual body) or nothing; kept to be re-rendered on a language switch
    parcelMessages[id] = [what, isError];
    const text = !what ? "" : typeof what === "string" ? t(what)
      : what.body && errorText(what.body) ? errorText(what.body) : String(what.message || what);
    const el = $(id); el.textContent = text; el.hidden = !text; el.classList.toggle("is-error", !!isError);
  }
  function valueParcel(parcel) {
    state.parcelBody = parcel;
    parcelMessage("parcel-error", "valuing", false); parcelMessage("parcel-report-error", "");
    return send(runUrl("/parcel", { year: state.year }), parcelInit(parcel, "application/json"))
      .then((body) => {
        state.parcel = body; parcelMessage("parcel-error", ""); renderParcel();
        $("parcel-panel").scrollIntoView({ block: "nearest" });
      })
      .catch((err) => { state.parcel = null; renderParcel(); parcelMessage("parcel-error", err, true); });
  }
  function downloadParcelReport() {
    if (!state.parcelBody) { return Promise.resolve(); }
    const btn = $("parcel-report"); btn.disabled = true;
    parcelMessage("parcel-report-error", "reporting", false);
    return fetch(runUrl("/parcel/report", { year: state.year, lang: state.lang }), parcelInit(state.parcelBody, "application/pdf, application/json"))
      .then((r) => {
        if (r.ok) { return r.blob(); }
        return r.json().catch(() => ({})).then((body) => {
          const e = new Error(errorText(body) || r.statusText); e.body = body; throw e;
        });
      })
      .then((blob) => {
        downloadBlob(blob, "qingshan-parcel-" + state.run.id.slice(0, 8) + "-" + state.year + "-" + state.lang + ".pdf");
        parcelMessage("parcel-report-error", "download_started", false);
      })
      .catch((err) => parcelMessage("parcel-report-error", err, true))
      .then(() => { btn.disabled = false; });
  }
  function clearParcel() {
    stopDrawing(); state.vertices = []; state.parcel = null; state.parcelBody = null; $("parcel-file").value = "";
    view.setParcel([], false); renderParcel(); parcelMessage("parcel-error", ""); parcelMessage("parcel-report-error", "");
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
    const eco = $("parcel-eco-table").querySelector("tbody"); eco.innerHTML = "";
    (p.by_ecosystem || []).forEach((e) => eco.appendChild(row([nameOf(e), e.value === null ? "—" : fmt(e.value / 1e4, 2), pct(e.share)])));
    const comp = $("parcel-comp-table").querySelector("tbody"); comp.innerHTML = "";
    (p.by_component || []).forEach((c) => comp.appendChild(row([componentName(c.indicator, c.component), fmt(c.quantity, 2),
      unitName(c.unit), c.value === null ? "—" : fmt(c.value / 1e4, 2)], [false, true, false, true])));
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
    const measure = state.view === "value" || state.view === "per_km2" ? state.measure : "value";
    return api(runUrl("/regions", { parent: parent, year: state.year, indicator: state.indicator, measure: measure }))
      .then((fc) => { state.features = fc.features; return loadViewData(); })
      .then(() => { clearStatus(); renderPanelChange(); return paintMap(); })
      .then(() => $("map").setAttribute("data-ready", "true"))
      .catch((err) => { paintMap(); showError(err); });
  }
  function loadSummary(code) {
    const run = state.run, year = state.year;
    return api(runUrl("/summary", { region: code, year: state.year })).then((s) => {
      if (state.run !== run || state.year !== year) { return s; }  // a later choice won
      state.summary = s; state.selected = s.region.code; setReportLinks();
      loadGdp(s.region.code); loadSeries(s.region.code);
      renderPanel(); loadUncertainty(s.region.code); return s;
    });
  }

  /* ---------- uncertainty (issue 10): 5–95 % error bars on the indicator chart, tornado chart of GEP ---------- */
  const UNC_TEXT = {
    en: { heading: "Uncertainty (5–95 %)", gep: "GEP 5–95 %", low: "input at 5 %", high: "input at 95 %",
      delta: "Change of GEP (100 million CNY)", draws: "draws" },
    zh: { heading: "不确定性（5–95 %）", gep: "GEP 5–95 % 区间", low: "输入取 5 % 分位", high: "输入取 95 % 分位",
      delta: "GEP 变化（亿元）", draws: "次抽样" }
  };
  function uncText(key) { return UNC_TEXT[state.lang === "zh" ? "zh" : "en"][key]; }
  function loadUncertainty(code) {
    // the run's newest stored analysis (GET /api/runs/{id}/uncertainty), fetched once per run; none: block hidden
    const run = state.run;
    if (state.uncertaintyRun === run.id) { renderUncertainty(code); return Promise.resolve(); }
    state.uncertainty = null; state.uncertaintyRun = run.id;
    return api(runUrl("/uncertainty", {})).then((u) => { if (state.run === run) { state.uncertainty = u; } },
      () => null).then(() => renderUncertainty(state.summary ? state.summary.region.code : code));
  }
  function uncIntervals(code) {
    const u = state.uncertainty, out = {};
    if (!u) { return out; }
    u.intervals.filter((r) => r.region_code === code).forEach((r) => { out[r.indicator] = r; });
    return out;
  }
  function addErrorBars(bar, items) {
    const iv = state.summary ? uncIntervals(state.summary.region.code) : {};
    const data = items.map((it, k) => { const r = iv[it.indicator];  // zero-width intervals get no bar
      return r && r.p95 > r.p5 ? [k, r.p5 / 1e8, r.p95 / 1e8] : null; }).filter(Boolean);
    if (!data.length) { return; }
    bar.setOption({ series: [{}, { type: "custom", name: uncText("heading"), data: data, z: 10,
      renderItem: (params, api) => {
        const lo = api.coord([api.value(1), api.value(0)]), hi = api.coord([api.value(2), api.value(0)]);
        const h = api.size([0, 1])[1] * 0.25, style = { stroke: "#1d2a22", lineWidth: 1.5 };
        return { type: "group", children: [
          { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: style },
          { type: "line", shape: { x1: lo[0], y1: lo[1] - h, x2: lo[0], y2: lo[1] + h }, style: style },
          { type: "line", shape: { x1: hi[0], y1: hi[1] - h, x2: hi[0], y2: hi[1] + h }, style: style }] };
      } }] });
  }
  function renderUncertainty(code) {
    const block = $("uncertainty-block"), u = state.uncertainty, iv = uncIntervals(code);
    block.hidden = !u || !iv.GEP;
    if (block.hidden) { return; }
    $("uncertainty-heading").textContent = uncText("heading");
    $("uncertainty-gep").textContent = uncText("gep") + ": [" + fmt(iv.GEP.p5 / 1e8, 2) + ", " + fmt(iv.GEP.p95 / 1e8, 2) +
      "] " + t("yi") + " (" + u.meta.draws + " " + uncText("draws") + ", " + u.meta.method + ")";
    const bar = chart("chart-indicator");
    if (bar && state.summary) { addErrorBars(bar, state.summary.by_indicator.filter((i) => i.value !== null)); }
    const c = chart("chart-tornado"), rows = u.swing.filter((r) => r.output === "GEP");
    $("chart-tornado").hidden = !rows.length;
    if (!c || !rows.length) { return; }
    c.setOption({
      animation: false, grid: { left: 8, right: 24, top: 28, bottom: 24, containLabel: true },
      legend: { top: 0, textStyle: { color: "#1d2a22" } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => fmt(v, 2) + " " + t("yi") },
      xAxis: Object.assign({ type: "value", name: uncText("delta"), nameLocation: "middle", nameGap: 22 }, AXIS),
      yAxis: Object.assign({ type: "category", data: rows.map((r) => r.key), inverse: true }, AXIS),
      series: [
        { type: "bar", name: uncText("low"), stack: "swing", itemStyle: { color: "#c0504d" },
          data: rows.map((r) => (r.low - r.base) / 1e8) },
        { type: "bar", name: uncText("high"), stack: "swing", itemStyle: { color: "#3a78b5" },
          data: rows.map((r) => (r.high - r.base) / 1e8) }]
    }, true);
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
  function setReportLinks() {
    const code = state.summary ? state.summary.region.code : null;
    ["pdf", "docx"].forEach((f) => {
      $("report-" + f).href = runUrl("/report", { region: code, year: state.year, lang: state.lang, format: f });
    });
  }
  function drill() { return Promise.all([loadMap(), loadRanking()]); }
  function selectRegion(props) {
    loadSummary(props.code).then((s) => {
      if (s.children.length && state.path.every((p) => p.code !== props.code)) {
        state.path.push({ code: props.code, name: props.name, level: props.level });
        return drill();
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
    state.change = null; state.changeKey = ""; state.population = null;
    clearParcel(); fillYears(); fillCompare();
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
    $("controls").addEventListener("submit", (e) => e.preventDefault());  // (no inline handler: CSP)
    $("run").addEventListener("change", (e) => chooseRun(e.target.value));
    $("controls").addEventListener("submit", (e) => e.preventDefault());
    $("year").addEventListener("change", (e) => { state.year = Number(e.target.value); fillCompare(); reloadAll(); });
    $("view").addEventListener("change", (e) => {
      state.view = e.target.value; fillCompare(); clearStatus();
      if (state.view === "change" && state.measure === "quantity") {
        state.measure = "value"; document.querySelector("input[name=measure][value=value]").checked = true;
      }
      $("measure-quantity").disabled = !state.indicator || state.view === "change" || state.view === "per_capita";
      drill();
    });
    $("compare").addEventListener("change", (e) => { state.compare = e.target.value; drill(); });
    $("change-csv").addEventListener("click", exportRanking);
    $("parcel-report").addEventListener("click", downloadParcelReport);
    $("indicator").addEventListener("change", (e) => {
      state.indicator = e.target.value;
      if (!state.indicator && state.measure === "quantity") {
        state.measure = "value"; document.querySelector("input[name=measure][value=value]").checked = true;
      }
      $("measure-quantity").disabled = !state.indicator || state.view === "change" || state.view === "per_capita";
      state.change = null; drill();
    });
    document.querySelectorAll("input[name=measure]").forEach((el) =>
      el.addEventListener("change", () => { state.measure = el.value; drill(); }));
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
