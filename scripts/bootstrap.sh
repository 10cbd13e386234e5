#!/usr/bin/env bash
# Installs what the project needs, idempotently, and says what it is doing.
# Used by `npm run demo`, `npm test` and `.ci/run`; safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
fail() { printf '\033[1;31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

# Node 20.19+ (ES modules, the test runner and eslint need it).
node_version=$(node -p 'process.versions.node' 2>/dev/null) || fail "Node.js not found: install Node.js 20.19 or newer"
IFS=. read -r major minor _ <<<"$node_version"
if (( major < 20 || (major == 20 && minor < 19) )); then fail "Node.js $node_version is too old: install Node.js 20.19 or newer"; fi

# Java 17+ and Maven run the local Kafka and schema registry, unless both are given from outside.
if [[ -z "${KAFKA_BROKERS:-}" || -z "${SCHEMA_REGISTRY_URL:-}" ]]; then
  java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
  [[ -n "$java_major" ]] || fail "Java 17+ not found: install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)"
  (( java_major >= 17 )) || fail "Java $java_major found, but 17+ is needed: install a JDK 17 or newer"
  if ! command -v mvn >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
      say "Maven not found: installing it with apt-get"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null) || fail "could not install Maven"
    else
      fail "Maven not found: install Apache Maven 3.8+ (Debian: apt-get install maven)"
    fi
  fi
fi

# npm dependencies: installed when missing or when the lock file changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm dependencies (first run downloads ~700 MB, mostly the embedded ClickHouse engine)..."
  started=$(date +%s)
  # Not `npm ci`: npm 11 refuses a lock file that lacks chdb's engines for other platforms
  # (macOS, ARM), which this registry does not serve. `npm install` installs the locked versions.
  npm install --no-audit --no-fund --loglevel=error >&2
  say "npm dependencies installed in $(( $(date +%s) - started )) s"
else
  say "npm dependencies up to date"
fi
