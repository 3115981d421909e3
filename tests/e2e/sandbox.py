"""A local CinderX host for end-to-end tests: a Debian sid chroot with python3.14 and an sshd on 127.0.0.1.

No machine here has CPython 3.14, which the ``cinderx`` wheels need; Debian sid ships it. The tree is built
once with debootstrap and cached outside the checkout, keyed by ``RECIPE_VERSION``. Every run mounts a
throwaway overlay on top of the cached tree, so the tool under test always meets a clean host (no venvs or
caches left by an earlier run) and the cache itself is never written to while it is in use. One thing
does outlive a run on purpose: ccache's directory (``<cache base>/ccache``, bind-mounted as the SSH
sessions' ``~/.cache/ccache``), so a CinderX source build compiled once is a cache hit in later runs.

Lifecycle::

    with sandbox_host() as host:      # SandboxHost(host="127.0.0.1", port=..., user="root", ...)
        ...                           # ssh -p host.port -i host.key_path root@127.0.0.1 python3.14 ...

On exit every process whose root is inside the overlay is killed by PID, every mount under it is unmounted,
and both are verified before anything is deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = [
    "PACKAGES",
    "RECIPE_VERSION",
    "SandboxError",
    "SandboxHost",
    "TreeStatus",
    "cache_base",
    "debian_mirror",
    "mounts_under",
    "parse_deb822_uris",
    "parse_sources_list_uris",
    "processes_rooted_in",
    "provision",
    "sandbox_host",
]

# Bump when the recipe below changes: a new version builds a new tree next to the old one.
RECIPE_VERSION = "3"
SUITE = "sid"
# The toolchain builds CinderX from source on the host (cinderx-source-build.md); valgrind counts
# instructions for `--metric instructions` where the host has no hardware counters (a VM).
PACKAGES = (
    "python3.14",
    "python3.14-venv",
    "python3.14-dev",
    "openssh-server",
    "rsync",
    "git",
    "cmake",
    "g++",
    "ninja-build",
    "ccache",
    "make",
    "valgrind",
)
PYTHON = "/usr/bin/python3.14"
SSHD = "/usr/sbin/sshd"
# Directory inside the tree for the per-run sshd config and keys, and the empty HOME of SSH sessions.
SSH_DIR = "/etc/armjit-sandbox"
SESSION_HOME = "/home/armjit"
# ccache's default directory under HOME; the cache itself lives in CCACHE_CACHE under the cache base.
CCACHE_SUBDIR = ".cache/ccache"
CCACHE_CACHE = "ccache"

# A clean environment for everything run inside the chroot: the caller's PATH, pyenv shims or pip
# settings (find-links to host directories) mean nothing in there.
_CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "DEBIAN_FRONTEND": "noninteractive",
}
# Proxy settings are the one part of the caller's environment the build (debootstrap, apt) and the host's
# SSH sessions (pip) need; sshd gives sessions a clean environment, so they are passed with SetEnv.
_PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
# The sid Release file on a mirror can be older than its Valid-Until; that must not stop a test build.
_APT_OPTS = ("-o", "Acquire::Check-Valid-Until=false", "-o", "Acquire::Retries=3")


class SandboxError(Exception):
    """Provisioning or teardown is impossible; the message is one line saying why and what to do."""


@dataclass(frozen=True)
class SandboxHost:
    """How to reach the running host: exactly what a user passes for a real ARM server."""

    host: str
    port: int
    user: str
    key_path: Path
    known_hosts_path: Path
    root: Path  # the chroot as seen from outside (the per-run overlay)

    @property
    def target(self) -> str:
        """``user@host:port``, the form ``--host`` takes."""
        return f"{self.user}@{self.host}:{self.port}"

    def ssh_argv(self, command: str) -> list[str]:
        """An OpenSSH client command line that runs ``command`` on the host, strict about the host key."""
        return [
            "ssh",
            "-p",
            str(self.port),
            "-i",
            str(self.key_path),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts_path}",
            "-F",
            "/dev/null",
            f"{self.user}@{self.host}",
            command,
        ]


@dataclass(frozen=True)
class TreeStatus:
    """The cached tree and whether this call had to build it."""

    root: Path
    built: bool
    seconds: float
    mirror: str


# -- the mirror -------------------------------------------------------------------------------------


def parse_deb822_uris(text: str) -> list[str]:
    """Archive URIs of the enabled ``deb`` stanzas of a deb822 ``.sources`` file, security suites last."""
    found: list[tuple[bool, str]] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and key:  # continuation line
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        security = "security" in fields.get("suites", "") or "security" in fields.get("uris", "")
        found.extend((security, uri) for uri in fields.get("uris", "").split())
    return [uri for _, uri in sorted(found, key=lambda item: item[0])]


def parse_sources_list_uris(text: str) -> list[str]:
    """Archive URIs of the ``deb`` lines of a one-line-style ``sources.list``, security suites last."""
    found: list[tuple[bool, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        line = re.sub(r"\[[^]]*\]", " ", line)  # drop "[signed-by=... arch=...]"
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb":
            found.append(("security" in parts[1] or "security" in parts[2], parts[1]))
    return [uri for _, uri in sorted(found, key=lambda item: item[0])]


def debian_mirror(etc_apt: Path = Path("/etc/apt")) -> str:
    """The Debian archive this machine's apt uses (``ARMJIT_SANDBOX_MIRROR`` overrides it)."""
    override = os.environ.get("ARMJIT_SANDBOX_MIRROR", "").strip()
    if override:
        return override
    uris: list[str] = []
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        uris += parse_deb822_uris(path.read_text(encoding="utf-8", errors="replace"))
    legacy = etc_apt / "sources.list"
    if legacy.is_file():
        uris += parse_sources_list_uris(legacy.read_text(encoding="utf-8", errors="replace"))
    for path in sorted((etc_apt / "sources.list.d").glob("*.list")):
        uris += parse_sources_list_uris(path.read_text(encoding="utf-8", errors="replace"))
    # Only a plain Debian archive can bootstrap sid; security and third-party archives cannot.
    usable = [u for u in uris if u.startswith(("http://", "https://")) and "security" not in u]
    debian = [u for u in usable if "debian" in u]
    if not (debian or usable):
        raise SandboxError(
            f"no Debian archive in {etc_apt}/sources.list(.d): set ARMJIT_SANDBOX_MIRROR to a Debian mirror URL"
        )
    return (debian or usable)[0].rstrip("/")


# -- processes and mounts -----------------------------------------------------------------------------


def _unescape_mount_path(text: str) -> str:
    # /proc/self/mounts writes space, tab, newline and backslash as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, in mount order (unmount them in reverse)."""
    prefix = str(path.resolve()) if path.exists() else str(path)
    result: list[Path] = []
    with Path("/proc/self/mounts").open(encoding="utf-8", errors="replace") as mounts:
        for line in mounts:
            point = _unescape_mount_path(line.split()[1])
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                result.append(Path(point))
    return result


def processes_rooted_in(path: Path) -> list[int]:
    """PIDs of live processes whose root directory (chroot) is ``path`` or below it."""
    prefix = str(path.resolve()) if path.exists() else str(path)
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            root = str((entry / "root").readlink())
        except OSError:  # gone, or a zombie
            continue
        if root == prefix or root.startswith(prefix.rstrip("/") + "/"):
            pids.append(int(entry.name))
    return pids


def _kill_all_rooted_in(path: Path, grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_rooted_in(path)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = processes_rooted_in(path)
        if not pids:
            return
    raise SandboxError(f"processes still running in {path} after SIGKILL: {processes_rooted_in(path)}")


def _unmount_all(path: Path) -> None:
    for point in reversed(mounts_under(path)):
        done = subprocess.run(["umount", str(point)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SandboxError(f"cannot unmount {point}: {done.stderr.strip() or done.returncode}")
    left = mounts_under(path)
    if left:
        raise SandboxError(f"still mounted under {path}: {', '.join(map(str, left))}")


def _safe_rmtree(path: Path) -> None:
    """Delete ``path`` only when nothing runs in it and nothing is mounted below it."""
    if not path.exists():
        return
    _kill_all_rooted_in(path)
    _unmount_all(path)
    shutil.rmtree(path)


# -- the cached tree ------------------------------------------------------------------------------------


def cache_base() -> Path:
    """Where trees and per-run directories live: ``$ARMJIT_SANDBOX_CACHE`` or ``~/.cache/armjit``."""
    configured = os.environ.get("ARMJIT_SANDBOX_CACHE", "").strip()
    base = Path(configured).expanduser() if configured else Path("~/.cache/armjit").expanduser()
    return base.resolve()


def _tree_dir(base: Path) -> Path:
    return base / f"sandbox-{RECIPE_VERSION}"


def _require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError("the CinderX sandbox host needs root (debootstrap, chroot, mount): run the e2e tier as root")


def _require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise SandboxError(f"missing {', '.join(missing)}: apt-get install -y debootstrap openssh-client rsync")


def _healthy(root: Path) -> bool:
    """The tree is usable: its python3.14 runs (with ssl and venv) and sshd exists."""
    if not (root / SSHD.lstrip("/")).is_file() or not (root.parent / "complete").is_file():
        return False
    # -I -B: no user site, no bytecode written into a tree that overlays may be using.
    probe = subprocess.run(
        ["chroot", str(root), PYTHON, "-I", "-B", "-c", "import ssl, venv, ensurepip"],
        env=_CHROOT_ENV,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@contextlib.contextmanager
def _locked(base: Path, mode: int, timeout: float = 1200.0) -> Iterator[IO[str]]:
    base.mkdir(parents=True, exist_ok=True)
    with (base / f"sandbox-{RECIPE_VERSION}.lock").open("a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SandboxError(f"timed out waiting for the sandbox lock {handle.name}") from None
                time.sleep(0.5)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _proxies() -> dict[str, str]:
    return {name: os.environ[name] for name in _PROXY_VARS if os.environ.get(name, "").strip()}


def _build_env() -> dict[str, str]:
    return {**_CHROOT_ENV, **_proxies()}


def _logged(argv: Sequence[str], log: IO[str], what: str, *, mirror: str = "") -> None:
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    done = subprocess.run(list(argv), stdout=log, stderr=subprocess.STDOUT, env=_build_env(), check=False)
    if done.returncode != 0:
        log.flush()
        tail = Path(log.name).read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        archive = f" (no access to the Debian archive at {mirror}?)" if mirror else ""
        raise SandboxError(f"{what} failed{archive}: {tail[0] if tail else done.returncode}; log: {log.name}")


def _build(work: Path, mirror: str, log: IO[str]) -> None:
    root = work / "root"
    _logged(
        ["debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE, str(root), mirror],
        log,
        f"debootstrap {SUITE} from {mirror}",
        mirror=mirror,
    )
    # Package downloads may pass a TLS-intercepting proxy: the host's extra CAs must be trusted inside too.
    extra_cas = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    target = root / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for ca in extra_cas:
        shutil.copyfile(ca, target / ca.name)
    resolv = root / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copyfile("/etc/resolv.conf", resolv)
    # Never start services while installing into the tree.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n", encoding="utf-8")
    policy.chmod(0o755)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    try:
        _logged(["chroot", str(root), "update-ca-certificates"], log, "update-ca-certificates")
        _logged(["chroot", str(root), "apt-get", *_APT_OPTS, "update"], log, "apt-get update", mirror=mirror)
        _logged(
            ["chroot", str(root), "apt-get", *_APT_OPTS, "install", "-y", "--no-install-recommends", *PACKAGES],
            log,
            f"apt-get install {' '.join(PACKAGES)}",
            mirror=mirror,
        )
        _logged(["chroot", str(root), "apt-get", "clean"], log, "apt-get clean")
    finally:
        _kill_all_rooted_in(root)
        _unmount_all(root)
    # Host keys made by openssh-server's postinst would be shared by every run; each run makes its own.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    version = subprocess.run(
        ["chroot", str(root), PYTHON, "-I", "-B", "-c", "import sys; print(sys.version.split()[0])"],
        env=_CHROOT_ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stamp = {
        "recipe_version": RECIPE_VERSION,
        "mirror": mirror,
        "suite": SUITE,
        "python": version,
        "packages": list(PACKAGES),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (work / "complete").write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")


def provision(base: Path | None = None) -> TreeStatus:
    """Return the cached tree, building it (under an exclusive lock, in a temp dir, renamed into place) if
    it is missing or broken."""
    _require_root()
    _require_tools("debootstrap", "chroot", "mount", "umount", "ssh-keygen")
    base = base or cache_base()
    tree = _tree_dir(base)
    started = time.monotonic()
    with _locked(base, fcntl.LOCK_SH):
        if _healthy(tree / "root"):
            return TreeStatus(tree / "root", False, time.monotonic() - started, _stamp(tree).get("mirror", ""))
    mirror = debian_mirror()
    with _locked(base, fcntl.LOCK_EX):
        if _healthy(tree / "root"):  # another run built it while we waited
            return TreeStatus(tree / "root", False, time.monotonic() - started, mirror)
        # Holding the exclusive lock: no run uses the tree, and leftovers of crashed builds are stale.
        for stale in base.glob(f".sandbox-{RECIPE_VERSION}.build-*"):
            _safe_rmtree(stale)
        _safe_rmtree(tree)
        work = base / f".sandbox-{RECIPE_VERSION}.build-{os.getpid()}"
        work.mkdir()
        log_path = base / f"sandbox-{RECIPE_VERSION}.build.log"
        with log_path.open("w", encoding="utf-8") as log:
            try:
                _build(work, mirror, log)
            except BaseException:
                _safe_rmtree(work)
                raise
        work.rename(tree)
        if not _healthy(tree / "root"):
            raise SandboxError(f"the freshly built tree {tree} fails its health check; log: {log_path}")
    return TreeStatus(tree / "root", True, time.monotonic() - started, mirror)


def _stamp(tree: Path) -> dict[str, str]:
    try:
        data = json.loads((tree / "complete").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


# -- one running host -------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What one running host owns, so teardown can undo exactly that."""

    directory: Path
    merged: Path
    sshd: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra: list[Path] = field(default_factory=list)
    ccache: Path | None = None  # kept across runs, bind-mounted as the sessions' ccache directory


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_banner(port: int, sshd: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sshd.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            time.sleep(0.02)
    return False


def _sshd_config(port: int) -> str:
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {SSH_DIR}/host_ed25519",
            f"AuthorizedKeysFile {SSH_DIR}/authorized_keys",
            "PidFile none",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "PrintMotd no",
            "Subsystem sftp internal-sftp",
            # An empty HOME: no rc files run for each command, and the tool's `~` is a fresh directory.
            "SetEnv "
            + " ".join([f"HOME={SESSION_HOME}", *(f"{k}={v}" for k, v in _proxies().items() if " " not in v)]),
            "MaxStartups 50:30:100",
            "",
        ]
    )


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)


def _start(tree_root: Path, run: _Run) -> SandboxHost:
    upper, work = run.directory / "upper", run.directory / "work"
    client = run.directory / "client"
    for directory in (upper, work, run.merged, client):
        directory.mkdir(mode=0o700)
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={tree_root},upperdir={upper},workdir={work}",
            str(run.merged),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["mount", "-t", "proc", "proc", str(run.merged / "proc")], check=True, capture_output=True)
    ssh_dir = run.merged / SSH_DIR.lstrip("/")
    ssh_dir.mkdir(parents=True, mode=0o700)
    (run.merged / SESSION_HOME.lstrip("/")).mkdir(parents=True, mode=0o700)
    if run.ccache is not None:
        # ccache's default directory for the SSH sessions' HOME: a CinderX build compiled in an
        # earlier run is a cache hit here, although the overlay (and its scratch/) is new.
        inside = run.merged / SESSION_HOME.lstrip("/") / CCACHE_SUBDIR
        inside.mkdir(parents=True)
        subprocess.run(["mount", "--bind", str(run.ccache), str(inside)], check=True, capture_output=True)
    # /run is empty in the tree (no tmpfs mounted): sshd's privilege separation dir must be made.
    (run.merged / "run/sshd").mkdir(parents=True, mode=0o755, exist_ok=True)
    _keygen(ssh_dir / "host_ed25519", "armjit-sandbox-host")
    _keygen(client / "id_ed25519", "armjit-sandbox-client")
    shutil.copyfile(client / "id_ed25519.pub", ssh_dir / "authorized_keys")
    host_key = (ssh_dir / "host_ed25519.pub").read_text(encoding="utf-8").split()
    run.log_path = run.directory / "sshd.log"
    for _attempt in range(5):  # the free port can be taken between probing and binding
        port = _free_port()
        (ssh_dir / "sshd_config").write_text(_sshd_config(port), encoding="utf-8")
        with run.log_path.open("ab") as log:
            run.sshd = subprocess.Popen(
                ["chroot", str(run.merged), SSHD, "-D", "-e", "-f", f"{SSH_DIR}/sshd_config"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_CHROOT_ENV,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which then tears down
            )
        if _wait_for_banner(port, run.sshd):
            known_hosts = client / "known_hosts"
            known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n", encoding="utf-8")
            return SandboxHost("127.0.0.1", port, "root", client / "id_ed25519", known_hosts, run.merged)
        run.sshd.kill()
        run.sshd.wait()
    tail = run.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
    raise SandboxError(f"sshd in the sandbox did not start: {tail[0] if tail else 'no output'}; log: {run.log_path}")


def _teardown(run: _Run) -> None:
    """Kill everything running in the overlay (sshd, its connection children, whatever they left), unmount,
    verify, then delete the run directory."""
    if run.sshd is not None and run.sshd.poll() is None:
        run.sshd.terminate()
    _kill_all_rooted_in(run.merged)
    if run.sshd is not None:
        try:
            run.sshd.wait(timeout=5)
        except subprocess.TimeoutExpired:
            run.sshd.kill()
            run.sshd.wait()
    _unmount_all(run.directory)
    if processes_rooted_in(run.merged) or mounts_under(run.directory):
        raise SandboxError(f"teardown left processes or mounts in {run.directory}")
    shutil.rmtree(run.directory)


def _reap_stale_runs(runs: Path) -> None:
    """Tear down runs whose owning process died without cleaning up (a killed pytest)."""
    if not runs.is_dir():
        return
    for directory in runs.iterdir():
        try:
            owner = int((directory / "owner.pid").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            owner = 0
        if owner and Path(f"/proc/{owner}").exists():
            continue
        _safe_rmtree(directory)


@contextlib.contextmanager
def sandbox_host(base: Path | None = None, *, shared_ccache: bool = True) -> Iterator[SandboxHost]:
    """Provision (or reuse) the tree, start an sshd in a fresh overlay of it, yield, and always tear down.

    ``shared_ccache=False`` leaves out the bind mount of the kept ccache directory: a host on which
    deletes are tried on purpose (a red team running an unguarded tree) reaches nothing outside its
    overlay."""
    base = base or cache_base()
    tree = provision(base)
    # A shared lock for as long as the host runs: a rebuild (exclusive) must not swap the overlay's lower dir.
    with _locked(base, fcntl.LOCK_SH):
        if not _healthy(tree.root):
            raise SandboxError(f"the cached tree {tree.root} broke while waiting for it: run again")
        runs = base / "runs"
        runs.mkdir(exist_ok=True)
        _reap_stale_runs(runs)
        directory = runs / uuid.uuid4().hex[:12]
        directory.mkdir(mode=0o700)
        (directory / "owner.pid").write_text(str(os.getpid()), encoding="utf-8")
        ccache = base / CCACHE_CACHE if shared_ccache else None
        if ccache is not None:
            ccache.mkdir(exist_ok=True)
        run = _Run(directory=directory, merged=directory / "merged", ccache=ccache)
        try:
            yield _start(tree.root, run)
        finally:
            _teardown(run)
