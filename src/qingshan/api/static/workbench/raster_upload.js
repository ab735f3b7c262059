// Raster upload in chunks with progress, resumable (分片上传): POST /api/uploads, PUT chunks, complete.
// A page reload or a lost connection resumes the same file (same name, size and date) from the chunks
// the server already holds.
"use strict";

(() => {
  let current = null;  // {id, version} of the version created

  async function sha256(file) {
    if (!(window.crypto && crypto.subtle)) return null;  // not a secure context: the server hashes the bytes
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function progress(done, total) {
    const bar = document.getElementById("raster-progress");
    bar.max = total; bar.value = done;
    document.getElementById("raster-pct").textContent = `${Math.floor((100 * done) / total)}%`;
  }

  async function putChunk(id, index, blob) {
    for (let attempt = 0; ; attempt++) {  // transient network errors: retry a few times (a retry is a no-op)
      try {
        const r = await fetch(`/api/uploads/${id}/chunks/${index}`, {
          method: "PUT", credentials: "same-origin", body: blob,
          headers: { "Content-Type": "application/octet-stream" },
        });
        if (r.ok) return;
        const data = await r.json().catch(() => ({}));
        const err = new Error((QS.lang === "zh" ? data.message_zh : data.message_en) || r.statusText);
        err.status = r.status;
        throw err;
      } catch (err) {
        if (err.status || attempt >= 3) throw err;
        await new Promise((ok) => setTimeout(ok, 500 * (attempt + 1)));
      }
    }
  }

  async function session(file, variable, year) {
    const key = `qs-upload:${file.name}:${file.size}:${file.lastModified}:${variable}:${year}`;
    const known = localStorage.getItem(key);
    if (known) {
      try {
        const s = await QS.api("GET", `/api/uploads/${known}`);
        if (s.status === "open") return [key, s];
      } catch (e) { /* expired or unknown: start again */ }
    }
    const s = await QS.api("POST", "/api/uploads", {
      filename: file.name, size: file.size, sha256: await sha256(file), variable, year: Number(year),
    });
    localStorage.setItem(key, s.id);
    return [key, s];
  }

  function showErrors(errors) {
    const body = document.querySelector("#raster-errors tbody");
    body.replaceChildren(...errors.map((e) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "raster-error";
      QS.cell(tr, QS.lang === "zh" ? e.message_zh : e.message_en).className = "error";
      return tr;
    }));
  }

  async function upload(ev) {
    ev.preventDefault();
    const out = document.getElementById("raster-status");
    const file = document.getElementById("raster-file").files[0];
    const variable = document.getElementById("raster-variable").value;
    const year = document.getElementById("raster-year").value;
    document.getElementById("raster-submit").disabled = true;
    current = null;
    if (!file) return;
    try {
      out.textContent = QS.t("正在上传…", "Uploading…"); out.className = "";
      const [key, s] = await session(file, variable, year);
      let done = s.chunks - s.missing.length;
      progress(done, s.chunks);
      for (const i of s.missing) {
        await putChunk(s.id, i, file.slice(i * s.chunk_size, Math.min(file.size, (i + 1) * s.chunk_size)));
        progress(++done, s.chunks);
      }
      out.textContent = QS.t("正在校验…", "Checking…");
      const sub = await QS.api("POST", `/api/uploads/${s.id}/complete`);
      localStorage.removeItem(key);
      const v = sub.versions[sub.versions.length - 1];
      current = { id: sub.id, version: v.version };
      showErrors(v.errors);
      out.textContent = v.errors.length
        ? QS.t(`第 ${v.version} 版有 ${v.errors.length} 处问题，请修正后重新上传。`, `Version ${v.version} has ${v.errors.length} problem(s): correct and upload again.`)
        : QS.t(`第 ${v.version} 版校验通过，可以提交。`, `Version ${v.version} passed the checks: you can submit it.`);
      out.className = v.errors.length ? "error" : "ok";
      document.getElementById("raster-submit").disabled = v.errors.length > 0;
      document.dispatchEvent(new Event("qs-submissions-changed"));
    } catch (err) { QS.message(out, err); }
  }

  async function submit() {
    const out = document.getElementById("raster-status");
    try {
      await QS.api("POST", `/api/submissions/${current.id}/versions/${current.version}/submit`);
      out.textContent = QS.t("已提交，等待审核。", "Submitted: waiting for review."); out.className = "ok";
      document.getElementById("raster-submit").disabled = true;
      document.dispatchEvent(new Event("qs-submissions-changed"));
    } catch (err) { QS.message(out, err); }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const user = await QS.me();
    if (!user) return;
    const rasters = (await QS.api("GET", "/api/forms")).find((g) => g.id === "rasters");
    const allowed = user.role !== "submitter" || user.forms.includes("*") || user.forms.includes("rasters");
    if (!rasters || !allowed) return;
    const sel = document.getElementById("raster-variable");
    for (const v of rasters.variables) {
      const o = document.createElement("option");
      o.value = v; o.textContent = v;
      sel.appendChild(o);
    }
    document.getElementById("raster-section").hidden = false;
    document.getElementById("raster-form").addEventListener("submit", upload);
    document.getElementById("raster-submit").addEventListener("click", submit);
  });
})();
