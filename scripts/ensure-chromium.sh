#!/usr/bin/env bash
# Debian's Chromium for the merchandiser page's browser test (driven by Playwright for Python
# with executable_path; Playwright's own browser download is never used). Best effort: without
# it the browser test skips and says why.
command -v chromium >/dev/null 2>&1 && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
echo "ensure-chromium: installing Debian's chromium for the browser test" >&2
{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; } \
    || echo "ensure-chromium: chromium could not be installed; the browser test will skip" >&2
exit 0
