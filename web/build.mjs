// Copy the dashboard's map and chart libraries from node_modules into the Python package.
//
//   cd web && npm ci && npm run build
//
// Writes src/qingshan/api/static/vendor/: maplibre-gl.js, maplibre-gl.css, echarts.min.js, Swagger UI
// (swagger-ui-bundle.js, swagger-ui.css, swagger-ui-favicon-32x32.png) and redoc.standalone.js, the
// licence of every package bundled into them (licenses/<package>.txt) and manifest.json (names,
// versions, sha256), which the Python side checks at start-up. No bundler: the files are the
// packages' own browser builds (UMD), served by the app at /static/vendor/.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "src", "qingshan", "api", "static", "vendor");

// package → files copied from it (path inside the package → name in vendor/)
const FILES = {
  "maplibre-gl": { "dist/maplibre-gl.js": "maplibre-gl.js", "dist/maplibre-gl.css": "maplibre-gl.css" },
  echarts: { "dist/echarts.min.js": "echarts.min.js" },
  // the API documentation pages /docs and /redoc (served locally, never from a CDN)
  "swagger-ui-dist": {
    "swagger-ui-bundle.js": "swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui.css",
    "favicon-32x32.png": "swagger-ui-favicon-32x32.png",
  },
  redoc: { "bundles/redoc.standalone.js": "redoc.standalone.js" },
};

// Strings replaced in a copied file so the page makes no request outside this host: ReDoc's sidebar logo
// is loaded from cdn.redoc.ly; an empty data: URL fails to decode and ReDoc then hides the image.
const PATCHES = {
  "redoc.standalone.js": [["https://cdn.redoc.ly/redoc/logo-mini.svg", "data:,"]],
};

function patch(dst) {
  for (const [from, to] of PATCHES[dst] || []) {
    const text = readFileSync(join(out, dst), "utf8");
    if (!text.includes(from)) throw new Error(`${dst}: '${from}' not found; update PATCHES in web/build.mjs`);
    writeFileSync(join(out, dst), text.split(from).join(to));
  }
}

function pkg(name) {
  return JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
}

// A package and its runtime dependencies, recursively (what the browser builds bundle).
function closure(names, seen = new Set()) {
  for (const name of names) {
    if (seen.has(name) || !existsSync(join(modules, name, "package.json"))) continue;
    seen.add(name);
    closure(Object.keys(pkg(name).dependencies || {}), seen);
  }
  return seen;
}

function licenceFiles(name) {
  const dir = join(modules, name);
  const top = readdirSync(dir).filter((f) => /^(licen[cs]e|notice|copying)/i.test(f));
  const extra = existsSync(join(dir, "licenses")) ? readdirSync(join(dir, "licenses")).map((f) => join("licenses", f)) : [];
  return [...top, ...extra].filter((f) => statSync(join(dir, f)).isFile());
}

function sha256(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "licenses"), { recursive: true });
const manifest = { generated_by: "web/build.mjs", packages: {}, files: {} };
for (const [name, files] of Object.entries(FILES)) {
  for (const [src, dst] of Object.entries(files)) {
    copyFileSync(join(modules, name, src), join(out, dst));
    patch(dst);
    manifest.files[dst] = { package: name, sha256: sha256(join(out, dst)) };
  }
}
for (const name of [...closure(Object.keys(FILES))].sort()) {
  const p = pkg(name);
  const texts = licenceFiles(name).map((f) => `==> ${name}/${f} <==\n` + readFileSync(join(modules, name, f), "utf8"));
  if (!texts.length) texts.push(`${name} ${p.version}: licence ${p.license} (no licence file in the package)\n`);
  const safe = name.replace("/", "__");
  writeFileSync(join(out, "licenses", `${safe}.txt`), texts.join("\n"));
  manifest.packages[name] = { version: p.version, license: p.license || "" };
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`vendor: ${Object.keys(manifest.files).join(", ")} + ${Object.keys(manifest.packages).length} licences → ${out}`);
