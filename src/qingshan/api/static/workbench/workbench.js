// Qingshan workbench: shared helpers (bilingual text, API calls with the session cookie).
"use strict";

const QS = (() => {
  let lang = localStorage.getItem("qs-lang") || "zh";

  function t(zh, en) { return lang === "zh" ? zh : en; }

  function applyLang() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-zh]").forEach((el) => {
      el.textContent = lang === "zh" ? el.dataset.zh : el.dataset.en;
    });
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.textContent = lang === "zh" ? "English" : "中文";
  }

  function toggleLang() {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("qs-lang", lang);
    applyLang();
    document.dispatchEvent(new Event("qs-lang"));
  }

  async function api(method, url, body) {
    const opts = { method, credentials: "same-origin", headers: {} };
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) {
      opts.body = JSON.stringify(body);
      opts.headers["Content-Type"] = "application/json";
    }
    const r = await fetch(url, opts);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message_en: text, message_zh: text }; }
    if (!r.ok) {
      const err = new Error((data && (lang === "zh" ? data.message_zh : data.message_en)) || r.statusText);
      err.status = r.status; err.data = data;
      throw err;
    }
    return data;
  }

  function message(el, err) {
    el.textContent = err.message;
    el.className = "error";
  }

  async function me() {
    try { return await api("GET", "/api/auth/me"); } catch (e) { return null; }
  }

  async function requireLogin() {
    const user = await me();
    if (!user) { location.href = "/workbench/"; return null; }
    const who = document.getElementById("who");
    if (who) who.textContent = `${user.username} (${user.role})`;
    return user;
  }

  async function logout() {
    await api("POST", "/api/auth/logout");
    location.href = "/workbench/";
  }

  function cell(tr, text, testid) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (testid) td.dataset.testid = testid;
    tr.appendChild(td);
    return td;
  }

  // Workflow states (submissions, jobs, publication) → [中文, English]; unknown codes are shown as they are.
  const STATES = {
    draft: ["草稿", "Draft"], submitted: ["已提交", "Submitted"], approved: ["已通过", "Approved"],
    rejected: ["已退回", "Rejected"], queued: ["排队中", "Queued"], running: ["运行中", "Running"],
    succeeded: ["已完成", "Succeeded"], failed: ["失败", "Failed"], published: ["已发布", "Published"],
  };

  function state(el, code) {
    const [zh, en] = STATES[code] || [code, code];
    el.dataset.status = code; el.dataset.zh = zh; el.dataset.en = en;
    el.textContent = t(zh, en);
    return el;
  }

  function stateCell(tr, code, testid) { return state(cell(tr, "", testid), code); }

  function button(zh, en, testid, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.zh = zh; b.dataset.en = en; b.dataset.testid = testid;
    b.textContent = t(zh, en);
    b.addEventListener("click", onClick);
    return b;
  }

  document.addEventListener("DOMContentLoaded", () => {
    applyLang();
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.addEventListener("click", toggleLang);
    const out = document.getElementById("logout-button");
    if (out) out.addEventListener("click", logout);
  });

  return { t, api, message, me, requireLogin, cell, state, stateCell, button, get lang() { return lang; } };
})();
