"""`make run` and `make test` check the system packages first: install them as root, or say how."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "system-packages"
BASH = shutil.which("bash")
CHMOD = shutil.which("chmod")
ZBAR = "\tlibzbar.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libzbar.so.0\n"


class Machine:
    """A PATH holding only stand-ins for id, ldconfig, msgfmt and apt-get."""

    def __init__(self, root: Path, *, uid: int, zbar: bool, msgfmt: bool, chromium: bool):
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "apt-get.log"
        self.chromium = root / "chromium"
        self.installed = root / "installed"
        self.installed.mkdir()
        self.write("id", f"echo {uid}")
        if zbar:
            (self.installed / "libzbar0").touch()
        # libzbar0 is a library: ldconfig lists it once it is there.
        self.write("ldconfig", f"[ -e {self.installed}/libzbar0 ] && printf '%s' '{ZBAR}'; exit 0")
        if msgfmt:
            self.write("msgfmt", "exit 0")
        if chromium:
            self.write_chromium()
        # apt-get "installs" by making the stand-ins answer as if the packages were there.
        self.write(
            "apt-get",
            f"""echo "$DEBIAN_FRONTEND $*" >> {self.log}
[ "$1" = install ] || exit 0
for package in "$@"; do case "$package" in
  libzbar0) > {self.installed}/libzbar0;;
  gettext) echo '#!{BASH}' > {self.bin}/msgfmt; {CHMOD} +x {self.bin}/msgfmt;;
  chromium) echo '#!{BASH}' > {self.chromium}; {CHMOD} +x {self.chromium};;
esac; done""",
        )

    def write(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!{BASH}\n{body}\n")
        path.chmod(0o755)

    def write_chromium(self) -> None:
        self.chromium.write_text(f"#!{BASH}\nexit 0\n")
        self.chromium.chmod(0o755)

    def run(self, purpose: str) -> subprocess.CompletedProcess:
        env = {"PATH": str(self.bin), "CHROMIUM_PATH": str(self.chromium), "HOME": "/nonexistent"}
        return subprocess.run(
            [BASH, str(SCRIPT), purpose], env=env, capture_output=True, text=True, timeout=30
        )

    @property
    def apt_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def machine(tmp_path):
    def build(**options) -> Machine:
        return Machine(tmp_path, **options)

    return build


def test_a_user_without_the_packages_is_told_the_exact_command(machine):
    bare = machine(uid=1000, zbar=False, msgfmt=False, chromium=False)

    result = bare.run("test")

    assert result.returncode == 1
    assert "sudo apt-get update && sudo apt-get install -y libzbar0 gettext chromium" in (
        result.stderr
    )
    assert bare.apt_calls == []


def test_make_run_does_not_ask_for_the_browser(machine):
    bare = machine(uid=1000, zbar=False, msgfmt=True, chromium=False)

    result = bare.run("run")

    assert result.returncode == 1
    assert "sudo apt-get update && sudo apt-get install -y libzbar0\n" in result.stderr


def test_root_installs_what_is_missing_after_an_update_without_questions(machine):
    bare = machine(uid=0, zbar=False, msgfmt=True, chromium=False)

    result = bare.run("test")

    assert result.returncode == 0, result.stderr
    assert bare.apt_calls == [
        "noninteractive update -qq",
        "noninteractive install -y -qq libzbar0 chromium",
    ]
    assert bare.run("test").returncode == 0 and len(bare.apt_calls) == 2  # nothing more to do


def test_a_machine_with_everything_installs_nothing(machine):
    ready = machine(uid=0, zbar=True, msgfmt=True, chromium=True)

    result = ready.run("test")

    assert result.returncode == 0 and result.stdout == result.stderr == ""
    assert ready.apt_calls == []


def test_a_failed_installation_stops_make(machine):
    bare = machine(uid=0, zbar=False, msgfmt=True, chromium=True)
    bare.write("apt-get", 'echo "$*" >> /dev/null; exit 0')  # succeeds but installs nothing

    result = bare.run("run")

    assert result.returncode == 1
    assert "Still missing after apt-get install: libzbar0." in result.stderr


def test_the_makefile_and_ci_use_the_script():
    makefile = (SCRIPT.parents[1] / "Makefile").read_text()
    ci = (SCRIPT.parent / "run").read_text()

    assert "run: system-packages-run venv" in makefile
    assert "test: system-packages venv" in makefile
    assert ".ci/system-packages test" in ci
    assert os.access(SCRIPT, os.X_OK)
