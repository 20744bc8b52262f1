# Sourced by bin/ scripts: a virtualenv in .venv with a requirements file installed into it.
# Re-installs only when the requirements files change, so the second run starts at once.

venv_install() {
  local requirements=$1
  local python=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  local stamp=".venv/.installed-$(basename "$requirements")"
  local digest
  digest=$(cat requirements*.txt requirements.lock | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    # The runtime packages as the image gets them: every one pinned and hash-checked.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
      -r requirements.lock
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$digest" >"$stamp"
  fi
}
