"""requirements.lock: every runtime package, transitive ones too, pinned with hashes, in step
with requirements.txt, and what the image and CI install."""

from __future__ import annotations

import re

from tests.support.servers import PROJECT_ROOT

REQUIREMENT = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if match := REQUIREMENT.match(line):
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def lock_entries() -> list[str]:
    """Each package's block of the lock: its `name==version \\` line and its hash lines."""
    text = (PROJECT_ROOT / "requirements.lock").read_text()
    return re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])


def test_every_runtime_pin_is_in_the_lock_at_its_version() -> None:
    wanted = pins((PROJECT_ROOT / "requirements.txt").read_text())
    locked = pins((PROJECT_ROOT / "requirements.lock").read_text())
    assert wanted, "requirements.txt pins nothing?"
    stale = {name: (version, locked.get(name)) for name, version in wanted.items()
             if locked.get(name) != version}  # fmt: skip
    assert not stale, f"requirements.lock is behind requirements.txt (run bin/lock): {stale}"
    unpinned = [
        line
        for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "==" not in line
    ]
    assert not unpinned


def test_every_locked_package_is_pinned_with_hashes() -> None:
    entries = lock_entries()
    assert len(entries) > len(pins((PROJECT_ROOT / "requirements.txt").read_text()))
    for entry in entries:
        assert REQUIREMENT.match(entry), entry
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry


def test_the_image_and_ci_install_the_lock_checking_hashes() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r /tmp/requirements.lock" in dockerfile
    venv = (PROJECT_ROOT / "bin" / "lib" / "venv.sh").read_text()
    assert re.search(r"--require-hashes \\\s+-r requirements\.lock", venv)
