// Reporting tasks (统计报表制度): create tasks, follow who has reported, send reminders (催报).
"use strict";

(() => {
  let user = null;
  let groupNames = {};
  let current = null;  // task id shown in the progress panel
  const OVERSEERS = ["reviewer", "accountant", "admin"];
  const STATUS = {
    missing: ["未报", "Not reported"], draft: ["草稿", "Draft"], rejected: ["已退回", "Rejected"],
    submitted: ["已提交", "Submitted"], approved: ["已通过", "Approved"],
    open: ["进行中", "Open"], closed: ["已关闭", "Closed"],
  };

  function statusCell(tr, code, testid) {
    const [zh, en] = STATUS[code] || [code, code];
    const td = QS.cell(tr, QS.t(zh, en), testid);
    td.dataset.zh = zh; td.dataset.en = en; td.dataset.status = code;
    return td;
  }

  function day(iso) {  // a deadline is the end of a day in Beijing time
    return new Date(iso).toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });
  }

  function yesNo(tr, flag, testid) {
    const td = QS.cell(tr, flag ? QS.t("是", "yes") : "", testid);
    if (flag) { td.dataset.zh = "是"; td.dataset.en = "yes"; td.className = "error"; }
    return td;
  }

  async function loadReminders() {
    const panel = document.getElementById("reminders-panel");
    const rows = [];
    for (const m of await QS.api("GET", "/api/reporting/reminders")) {
      if (OVERSEERS.includes(user.role)) break;  // overseers follow the progress tables instead
      const tr = document.createElement("tr");
      tr.dataset.testid = `reminder-${m.id}`;
      QS.cell(tr, m.form_no); QS.cell(tr, QS.t(m.title_zh, m.title_en || m.title_zh));
      QS.cell(tr, m.region_code, "reminder-unit"); QS.cell(tr, day(m.deadline)); QS.cell(tr, m.message);
      QS.cell(tr, m.sent_by); statusCell(tr, m.status_now, "reminder-status");
      rows.push(tr);
    }
    document.querySelector("#reminders tbody").replaceChildren(...rows);
    panel.hidden = rows.length === 0;
  }

  async function loadTasks() {
    const rows = [];
    for (const t of await QS.api("GET", "/api/reporting/tasks")) {
      const tr = document.createElement("tr");
      tr.dataset.testid = `task-${t.id}`;
      QS.cell(tr, t.id); QS.cell(tr, t.form_no); QS.cell(tr, QS.t(t.title_zh, t.title_en || t.title_zh));
      QS.cell(tr, t.year); QS.cell(tr, day(t.deadline));
      const c = t.counts;
      QS.cell(tr, `${c.submitted + c.approved} / ${c.total}`, "task-reported");
      QS.cell(tr, c.overdue, "task-overdue");
      statusCell(tr, t.status);
      QS.cell(tr, "").appendChild(QS.button("查看进度", "Progress", `open-task-${t.id}`, () => showProgress(t.id)));
      rows.push(tr);
    }
    document.querySelector("#tasks tbody").replaceChildren(...rows);
  }

  async function remind(regions) {
    const out = document.getElementById("progress-status");
    try {
      const body = { message: document.getElementById("remind-message").value };
      if (regions) body.regions = regions;
      const r = await QS.api("POST", `/api/reporting/tasks/${current}/remind`, body);
      out.textContent = QS.t(`已催报 ${r.sent.length} 个单位。`, `Reminded ${r.sent.length} unit(s).`);
      out.className = "ok";
      await showProgress(current);
      await loadTasks();
    } catch (err) { QS.message(out, err); }
  }

  async function showProgress(id) {
    current = id;
    const d = await QS.api("GET", `/api/reporting/tasks/${id}`);
    const canRemind = OVERSEERS.includes(user.role) && d.status === "open";
    document.getElementById("progress-task").textContent =
      `${d.form_no} · ${QS.t(d.title_zh, d.title_en || d.title_zh)} · ${d.year} · ` +
      QS.t(`截止 ${day(d.deadline)}`, `due ${day(d.deadline)}`);
    const rows = [];
    for (const u of d.units) {
      const tr = document.createElement("tr");
      tr.dataset.testid = `unit-${u.region_code}`;
      QS.cell(tr, u.region_code); statusCell(tr, u.status, "unit-status");
      QS.cell(tr, u.reported_by || ""); QS.cell(tr, u.responsible.join(", "));
      yesNo(tr, u.overdue, "unit-overdue"); QS.cell(tr, u.reminders, "unit-reminders");
      const act = QS.cell(tr, "");
      if (canRemind && ["missing", "draft", "rejected"].includes(u.status)) {
        act.appendChild(QS.button("催报", "Remind", `remind-${u.region_code}`, () => remind([u.region_code])));
      }
      rows.push(tr);
    }
    document.querySelector("#units-table tbody").replaceChildren(...rows);
    document.getElementById("remind-panel").hidden = !canRemind;
    document.getElementById("progress-csv").href = `/api/reporting/tasks/${id}/progress.csv`;
    document.getElementById("progress-panel").hidden = false;
  }

  async function createTask(ev) {
    ev.preventDefault();
    const out = document.getElementById("create-status");
    const f = new FormData(ev.target);
    const body = {
      form_no: f.get("form_no"), group: f.get("group"), year: Number(f.get("year")),
      title_zh: f.get("title_zh"), title_en: f.get("title_en") || "", deadline: f.get("deadline"),
      regions: String(f.get("regions")).split(/[\s,，、]+/).filter(Boolean),
    };
    try {
      const t = await QS.api("POST", "/api/reporting/tasks", body);
      out.textContent = QS.t(`已下发任务 ${t.id}。`, `Task ${t.id} created.`); out.className = "ok";
      await loadTasks();
      await showProgress(t.id);
    } catch (err) { QS.message(out, err); }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    user = await QS.requireLogin();
    if (!user) return;
    if (user.role === "submitter") document.getElementById("home-link").href = "/workbench/submit";
    const select = document.getElementById("group");
    for (const g of await QS.api("GET", "/api/forms")) {
      groupNames[g.id] = [g.name_zh, g.name_en];
      if (g.id === "rasters") continue;
      const o = document.createElement("option");
      o.value = g.id; o.textContent = `${g.name_zh} ${g.name_en}`;
      select.appendChild(o);
    }
    if (["accountant", "admin"].includes(user.role)) {
      document.getElementById("create-panel").hidden = false;
      document.getElementById("task-form").addEventListener("submit", createTask);
    }
    document.getElementById("remind-all").addEventListener("click", () => remind(null));
    document.addEventListener("qs-lang", () => { loadTasks(); loadReminders(); if (current) showProgress(current); });
    await loadReminders();
    await loadTasks();
  });
})();
