// Administration (系统管理): users, roles and scopes, password resets, disabling; the audit-log viewer.
"use strict";

(() => {
  const ROLES = {
    admin: ["管理员", "Administrator"], accountant: ["核算员", "Accountant"], reviewer: ["审核员", "Reviewer"],
    submitter: ["填报员", "Submitter"], viewer: ["查看者", "Viewer"],
  };
  const list = (text) => String(text || "").split(/[\s,，、]+/).filter(Boolean);

  function roleSelect(value, testid) {
    const s = document.createElement("select");
    if (testid) s.dataset.testid = testid;
    for (const [id, [zh, en]] of Object.entries(ROLES)) {
      const o = document.createElement("option");
      o.value = id; o.textContent = `${zh} ${en}`; o.selected = id === value;
      s.appendChild(o);
    }
    return s;
  }

  function input(value, testid) {
    const i = document.createElement("input");
    i.value = value; i.size = 14; i.dataset.testid = testid;
    return i;
  }

  async function patch(id, body, okZh, okEn) {
    const out = document.getElementById("users-status");
    try {
      await QS.api("PATCH", `/api/users/${id}`, body);
      out.textContent = QS.t(okZh, okEn); out.className = "ok";
      await loadUsers();
      await loadAudit();
    } catch (err) { QS.message(out, err); }
  }

  async function loadUsers() {
    const rows = [];
    for (const u of await QS.api("GET", "/api/users")) {
      const tr = document.createElement("tr");
      tr.dataset.testid = `user-${u.username}`;
      QS.cell(tr, u.id); QS.cell(tr, u.username); QS.cell(tr, u.display_name);
      const dept = input(u.department || "", "user-department");
      QS.cell(tr, "").appendChild(dept);
      const role = roleSelect(u.role, "user-role");
      QS.cell(tr, "").appendChild(role);
      const regions = input(u.regions.join(", "), "user-regions");
      QS.cell(tr, "").appendChild(regions);
      const forms = input(u.forms.join(", "), "user-forms");
      QS.cell(tr, "").appendChild(forms);
      const st = QS.cell(tr, QS.t(u.active ? "启用" : "已停用", u.active ? "active" : "disabled"), "user-active");
      st.dataset.zh = u.active ? "启用" : "已停用"; st.dataset.en = u.active ? "active" : "disabled";
      const act = QS.cell(tr, "");
      act.appendChild(QS.button("保存", "Save", `save-${u.username}`, () => patch(u.id,
        { role: role.value, department: dept.value.trim(), regions: list(regions.value), forms: list(forms.value) },
        "已保存。", "Saved.")));
      act.appendChild(u.active
        ? QS.button("停用", "Disable", `disable-${u.username}`, () => patch(u.id, { active: false }, "已停用。", "Disabled."))
        : QS.button("启用", "Enable", `enable-${u.username}`, () => patch(u.id, { active: true }, "已启用。", "Enabled.")));
      act.appendChild(QS.button("重置密码", "Reset password", `reset-${u.username}`, () => {
        const pw = document.getElementById("new-password").value;
        return patch(u.id, { password: pw }, "密码已重置，该用户的会话已结束。", "Password reset; the user's sessions ended.");
      }));
      rows.push(tr);
    }
    document.querySelector("#users tbody").replaceChildren(...rows);
  }

  function auditQuery() {
    const f = new FormData(document.getElementById("audit-filter"));
    const q = new URLSearchParams();
    for (const key of ["actor", "action", "object_type"]) if (f.get(key)) q.set(key, f.get(key));
    if (f.get("since")) q.set("since", `${f.get("since")}T00:00:00+08:00`);
    if (f.get("until")) {  // "to" a day: up to the end of that day, Beijing time
      const d = new Date(`${f.get("until")}T00:00:00+08:00`); d.setUTCDate(d.getUTCDate() + 1);
      q.set("until", d.toISOString());
    }
    return q;
  }

  async function loadAudit() {
    const out = document.getElementById("audit-status");
    const q = auditQuery();
    document.getElementById("audit-export").href = `/api/audit/export.csv?${q}`;
    try {
      const rows = [];
      for (const e of await QS.api("GET", `/api/audit?${q}&limit=200`)) {
        const tr = document.createElement("tr");
        tr.dataset.testid = "audit-row";
        QS.cell(tr, e.id); QS.cell(tr, new Date(e.at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" }));
        QS.cell(tr, e.actor || QS.t("系统", "system")); QS.cell(tr, e.action, "audit-action");
        QS.cell(tr, `${e.object_type} ${e.object_id || ""}`, "audit-object");
        QS.cell(tr, JSON.stringify(e.details));
        rows.push(tr);
      }
      document.querySelector("#audit tbody").replaceChildren(...rows);
      out.textContent = QS.t(`${rows.length} 条（最多显示 200 条；导出不限）`, `${rows.length} line(s) (200 shown at most; the export has all)`);
      out.className = "";
    } catch (err) { QS.message(out, err); }
  }

  async function createUser(ev) {
    ev.preventDefault();
    const out = document.getElementById("create-user-status");
    const f = new FormData(ev.target);
    try {
      const u = await QS.api("POST", "/api/users", {
        username: f.get("username"), display_name: f.get("display_name") || "", role: f.get("role"),
        department: (f.get("department") || "").trim(),
        regions: list(f.get("regions")), forms: list(f.get("forms")), password: f.get("password"),
      });
      out.textContent = QS.t(`已新建用户 ${u.username}。`, `User ${u.username} created.`); out.className = "ok";
      ev.target.reset();
      await loadUsers();
      await loadAudit();
    } catch (err) { QS.message(out, err); }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const user = await QS.requireLogin();
    if (!user) return;
    if (user.role !== "admin") { location.href = "/workbench/review"; return; }
    const sel = document.getElementById("u-role");
    sel.replaceWith(Object.assign(roleSelect("submitter", "u-role"), { id: "u-role", name: "role" }));
    document.getElementById("user-form").addEventListener("submit", createUser);
    document.getElementById("audit-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(); });
    await loadUsers();
    await loadAudit();
  });
})();
