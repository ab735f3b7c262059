#!/usr/bin/env bash
# Install, only when missing, the Debian packages the test suite needs (called by `make test`).
#
#   postgresql          server binaries (initdb, pg_ctl, postgres) for the PostgreSQL store tests;
#                       tests/pg_harness.py starts a throw-away server on a loopback port
#   chromium            headless browser for the Playwright dashboard tests (never `playwright install`)
#   fonts-wqy-microhei  Chinese glyphs in browser screenshots and in the PDF reports (WeasyPrint, matplotlib)
#   poppler-utils       pdftoppm / pdffonts / pdftotext: the report tests render PDFs to PNG and read their fonts
#   wrk                 HTTP load generator for `make bench-load` (never used by the tests)
#
# Idempotent: does nothing when everything is present; runs `apt-get update` only before an install.
# As root it installs. Not root and something missing: prints a warning (English + 中文) and exits 0 —
# the tests that need the package skip with a reason — except under CI (CI=true), where it exits 1
# so a missing server can never turn the PostgreSQL tests into silent skips.
#
# Usage: tools/ensure_system_deps.sh [--check] [--reports]
#   --check    report only, install nothing
#   --reports  only what the reports need (fonts; used by `make demo`)
set -euo pipefail

CHECK_ONLY=0
REPORTS_ONLY=0
for arg in "$@"; do
    [[ "$arg" == "--check" ]] && CHECK_ONLY=1
    [[ "$arg" == "--reports" ]] && REPORTS_ONLY=1
done

# Debian's postgresql-NN installs the server under /usr/lib/postgresql/NN/bin and puts no initdb or
# pg_ctl on PATH (/usr/bin/pg_ctlcluster is a wrapper for system clusters). A PATH entry such as
# /usr/local/bin/pg_ctl is a local convenience and says nothing about the package, so it is not trusted.
have_pg_server() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] && return 0
    done
    return 1
}

have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }

have_font() { [[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || dpkg -s fonts-wqy-microhei >/dev/null 2>&1; }

have_poppler() { command -v pdftoppm >/dev/null 2>&1 && command -v pdffonts >/dev/null 2>&1; }

missing=()
have_font || missing+=(fonts-wqy-microhei)
if [[ $REPORTS_ONLY -eq 0 ]]; then
    have_pg_server || missing+=(postgresql)
    have_chromium || missing+=(chromium)
    have_poppler || missing+=(poppler-utils)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

warn() {
    echo "WARNING: missing Debian packages: ${missing[*]} — $1" >&2
    echo "警告：缺少 Debian 软件包：${missing[*]} —— $2" >&2
    echo "  Fix / 解决：sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
}

if [[ $CHECK_ONLY -eq 1 || $(id -u) -ne 0 ]]; then
    if [[ "${CI:-}" == "true" ]]; then
        warn "CI=true: refusing to let the tests that need them skip." \
             "CI=true：不允许依赖这些软件包的测试被跳过。"
        exit 1
    fi
    warn "the tests that need them will be skipped (not root, nothing installed)." \
         "依赖它们的测试将被跳过（非 root 用户，未安装任何软件包）。"
    exit 0
fi

echo "Installing Debian packages for the tests / 安装测试所需的 Debian 软件包: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Verify: a package that installed but still does not provide what the tests look for is an error.
still=()
have_font || still+=(fonts-wqy-microhei)
if [[ $REPORTS_ONLY -eq 0 ]]; then
    have_pg_server || still+=(postgresql)
    have_chromium || still+=(chromium)
    have_poppler || still+=(poppler-utils)
fi
if [[ ${#still[@]} -ne 0 ]]; then
    echo "ERROR: installed but still not found: ${still[*]}" >&2
    echo "错误：已安装但仍未找到：${still[*]}" >&2
    exit 1
fi
