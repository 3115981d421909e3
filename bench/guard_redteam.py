"""Red-team table for the path guard, work-dir ownership and the lease: each case run against two
armjit trees (before and after a change), side by side.

Every case runs in its own child process (a FIFO or /dev/zero must not hang the table) with a
fresh scratch directory. Cases marked ``host`` run against a throwaway overlay of the e2e CinderX
host (tests/e2e/sandbox.py: a Debian sid chroot reached over SSH on 127.0.0.1), so what a broken
guard deletes there is gone with the overlay; links "into a system tree" there point at
/usr/share/doc, /var/lib/dpkg and the like, so that sshd keeps working for the next case. Local
cases touch only the scratch directory: a link to this machine's /etc is given only to the tree
under test when it must refuse before writing (``local_etc`` cases, and links to this machine's devices,
are skipped for ``--before``).

$D in the table is the case's scratch dir on the host, $T the local one.

Run (as root, the sandbox needs it):
  .nox/tests/bin/python bench/guard_redteam.py --before /tmp/armjit-before --after .
where /tmp/armjit-before holds ``git archive <base commit>`` unpacked (outside the repo).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES: dict[str, tuple[str, bool, Callable[[dict[str, Any]], str]]] = {}


def case(
    kind: str, *, host: bool = False
) -> Callable[[Callable[[dict[str, Any]], str]], Callable[[dict[str, Any]], str]]:
    def add(fn: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], str]:
        CASES[fn.__name__] = (kind, host, fn)
        return fn

    return add


# -- helpers (run in the child, against the tree under test) --------------------------------------


def ssh(ctx: dict[str, Any]) -> Any:
    from armjit.seams.hosts import SshHost, SshTarget

    return SshHost(
        SshTarget(
            host="127.0.0.1",
            user="root",
            port=ctx["port"],
            key=ctx["key"],
            known_hosts=Path(ctx["known_hosts"]),
            strict=False,
            ssh_config=None,
            connect_timeout=10,
        )
    )


def repo(ctx: dict[str, Any]) -> Path:
    root = Path(ctx["tmp"]) / "repo"
    (root / "src").mkdir(parents=True)
    (root / "README").write_text("x\n")
    (root / "src" / "a.c").write_text("int a;\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@x"
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", *argv], cwd=root, check=True, env=env, capture_output=True)
    return root


def remote_count(host: Any, path: str) -> int | str:
    try:
        out = host.run(f"find {shlex.quote(path)} -xdev 2>/dev/null | wc -l", timeout=60).stdout.strip()
    except Exception:
        return "host unreachable"
    return int(out or 0)


SHORT: dict[str, str] = {}  # long scratch paths -> short names in the table


def short(text: str) -> str:
    for long, name in SHORT.items():
        text = text.replace(long, name)
    return re.sub(r"root@127\.0\.0\.1:\d+:", "", text)


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except BaseException as exc:  # the table shows what the user would see
        text = short(" ".join(str(exc).split()))
        return f"{type(exc).__name__}: {text[:110]}"
    return "accepted"


# A user bob with a home, a directory of another uid, a chain of links: made once per overlay.
PREPARE = (
    "grep -q ^bob: /etc/passwd || echo 'bob:x:4242:4242::/home/bob:/bin/sh' >> /etc/passwd; "
    "mkdir -p /home/bob/.ssh && echo key > /home/bob/.ssh/authorized_keys && echo n > /home/bob/notes.md; "
    "mkdir -p /srv/rt-bob/data && echo d > /srv/rt-bob/data/x && chown -R 4242 /srv/rt-bob; "
    "mkdir -p /srv/rt /srv/rt-own && ln -sfn /usr/share/man /srv/rt-chain-1 && ln -sfn /srv/rt-chain-1 /srv/rt-chain"
)


def deploy_into(ctx: dict[str, Any], dest: str, watch: str, *, adopt: bool = False, setup: str = "") -> str:
    from armjit.seams import sync

    host = ssh(ctx)
    host.run(f"{PREPARE}; {setup or 'true'}", timeout=60)
    before = remote_count(host, watch)
    said = outcome(lambda: sync.sync_tree(host, repo(ctx), dest, method="rsync", adopt=adopt))
    after = remote_count(host, watch)
    host.close()
    changed = "" if before == after else f"; {watch}: {before} -> {after} entries"
    return said + changed


# -- 1: a path is judged by what it is --------------------------------------------------------------


def _link_case(name: str, target: str, suffix: str = "", adopt: bool = True) -> None:
    def run(ctx: dict[str, Any]) -> str:
        base = f"/srv/rt/{ctx['id']}"
        setup = f"mkdir -p {base} && ln -sfn {target} {base}/link"
        return deploy_into(ctx, f"{base}/link{suffix}", target, adopt=adopt, setup=setup)

    run.__name__ = name
    case("paths", host=True)(run)


_link_case("adopt_into_link_to_usr_share_doc", "/usr/share/doc")
_link_case("deploy_below_link_to_usr_share_doc", "/usr/share/doc", "/armjit-rt", adopt=False)
_link_case("adopt_into_link_to_var_lib_dpkg", "/var/lib/dpkg")
_link_case("adopt_into_link_to_boot", "/boot")
_link_case("adopt_into_relative_link_to_usr_lib", "../../../usr/lib/python3")
_link_case("adopt_into_link_to_root_home", "/root")
_link_case("adopt_into_link_to_slash", "/")
_link_case("adopt_into_link_to_opt_of_another_uid", "/srv/rt-bob")
_link_case("deploy_below_dangling_link_into_usr", "/usr/armjit-never", adopt=False)
_link_case("adopt_into_link_chain_to_usr_share_man", "/srv/rt-chain")
_link_case("adopt_into_link_to_etc", "/etc")
_link_case("deploy_below_link_to_etc", "/etc", "/armjit-rt", adopt=False)
_link_case("adopt_into_link_to_var_log", "/var/log")
_link_case("adopt_into_link_to_home", "/home")
_link_case("deploy_below_link_into_bobs_home", "/home/bob", "/work", adopt=False)
_link_case("deploy_into_link_to_own_dir", "/srv/rt-own", "/w", adopt=False)


def _home_case(name: str, dest: str, adopt: bool) -> None:
    def run(ctx: dict[str, Any]) -> str:
        return deploy_into(ctx, dest, "/home/bob" if "bob" in dest else "/srv/rt-bob", adopt=adopt)

    run.__name__ = name
    case("paths", host=True)(run)


_home_case("adopt_other_users_home", "/home/bob", True)
_home_case("deploy_below_other_users_home", "/home/bob/work", False)
_home_case("tilde_user_home", "~bob/work", False)
_home_case("tilde_daemon", "~daemon/work", False)
_home_case("tilde_nosuchuser", "~nosuchuser/work", False)
_home_case("dir_owned_by_another_uid", "/srv/rt-bob/data", True)
_home_case("below_dir_owned_by_another_uid", "/srv/rt-bob/new/w", False)
_home_case("www_data_home", "/var/www/site", True)
_home_case("plain_new_dir_with_spaces", "/srv/rt/new dir/it's w", False)


@case("paths", host=True)
def work_dir_is_a_file(ctx: dict[str, Any]) -> str:
    base = f"/srv/rt/{ctx['id']}"
    return deploy_into(ctx, f"{base}/f", base, setup=f"mkdir -p {base} && echo x > {base}/f")


def _local_case(name: str, *, local_etc: bool = False) -> Callable[[Callable[[dict[str, Any]], str]], None]:
    def wrap(fn: Callable[[dict[str, Any]], str]) -> None:
        fn.__name__ = name
        fn.local_etc = local_etc  # type: ignore[attr-defined]
        case("paths")(fn)

    return wrap


@_local_case("notes_dir_tilde_root")
def _(ctx: dict[str, Any]) -> str:
    from armjit.seams.safepaths import check_local_dir

    return outcome(lambda: check_local_dir("~root", what="--notes-dir", home=Path(ctx["tmp"]) / "home"))


@_local_case("notes_dir_tilde_daemon")
def _(ctx: dict[str, Any]) -> str:
    from armjit.seams.safepaths import check_local_dir

    return outcome(lambda: check_local_dir("~daemon", what="--notes-dir"))


@_local_case("reports_tilde_nosuchuser")
def _(ctx: dict[str, Any]) -> str:
    from armjit.seams.safepaths import check_local_dir

    return outcome(lambda: check_local_dir("~nosuchuser", what="--reports"))


@_local_case("notes_dir_link_to_etc", local_etc=True)
def _(ctx: dict[str, Any]) -> str:
    from armjit.seams.safepaths import check_local_dir

    link = Path(ctx["tmp"]) / "notes"
    link.symlink_to("/etc")
    return outcome(lambda: check_local_dir(link, what="--notes-dir"))


@_local_case("reports_link_to_usr", local_etc=True)
def _(ctx: dict[str, Any]) -> str:
    from armjit.seams.safepaths import check_local_dir

    link = Path(ctx["tmp"]) / "r"
    link.symlink_to("/usr")
    return outcome(lambda: check_local_dir(link / "reports", what="--reports"))


@_local_case("task_plan_link_into_etc", local_etc=True)
def _(ctx: dict[str, Any]) -> str:
    from armjit.seams import notes

    link = Path(ctx["tmp"]) / "task_plan.md"
    link.symlink_to("/etc/armjit-redteam-never/task_plan.md")
    return outcome(lambda: notes.upsert_block(link, "x", "y\n"))


def _special(name: str, make: Callable[[Path], None], *, local_etc: bool = False) -> None:
    @_local_case(name, local_etc=local_etc)
    def run(ctx: dict[str, Any]) -> str:
        from armjit.seams import notes

        path = Path(ctx["tmp"]) / "findings.md"
        make(path)
        return outcome(lambda: notes.upsert_block(path, "x", "y\n"))

    del run


_special("findings_is_a_fifo", os.mkfifo)
# A tree that writes through a link replaces the device itself (the notes writer of 422f4fb turned
# this machine's /dev/null into a regular file): only the tree under test, which must refuse, runs these.
_special("findings_links_to_dev_zero", lambda p: p.symlink_to("/dev/zero"), local_etc=True)
_special("findings_links_to_dev_null", lambda p: p.symlink_to("/dev/null"), local_etc=True)
_special("findings_is_a_directory", lambda p: p.mkdir())


@_local_case("findings_is_a_socket")
def _(ctx: dict[str, Any]) -> str:
    import socket

    from armjit.seams import notes

    path = Path(ctx["tmp"]) / "findings.md"
    holder = socket.socket(socket.AF_UNIX)
    holder.bind(str(path))
    return outcome(lambda: notes.upsert_block(path, "x", "y\n"))


@_local_case("state_file_is_a_fifo")
def _(ctx: dict[str, Any]) -> str:
    from armjit.seams import notes

    os.mkfifo(Path(ctx["tmp"]) / ".armjit-state.json")
    return outcome(lambda: notes.read_state(Path(ctx["tmp"])))


# -- 2: armjit deletes only what it wrote -----------------------------------------------------------


def _foreign(name: str, fake: str, content: str | None, *, adopt: bool = False, method: str = "rsync") -> None:
    def run(ctx: dict[str, Any]) -> str:
        from armjit.seams import sync

        host = ssh(ctx)
        base = f"/srv/rt/{ctx['id']}"
        r = repo(ctx)
        sync.sync_tree(host, r, f"{base}/owned", method="rsync")
        copy = (
            f"cp {base}/owned/{fake} {base}/data/ 2>/dev/null"
            if content is None
            else (f"printf %s {shlex.quote(content)} > {base}/data/{fake}")
        )
        host.run(
            f"mkdir -p {base}/data/results && echo m > {base}/data/mine.txt && echo r > {base}/data/results/r; {copy}"
        )
        before = remote_count(host, f"{base}/data")
        said = outcome(lambda: sync.sync_tree(host, r, f"{base}/data", method=method, adopt=adopt))
        # Wherever they are now (adopt moves them into a sibling dir): deleted is what counts.
        kept = host.run(
            f"find {base} -path {base}/owned -prune -o \\( -name mine.txt -o -path '*/results/r' \\) -print | wc -l"
        ).stdout.strip()
        after = remote_count(host, f"{base}/data")
        host.close()
        return f"{said}; data entries {before} -> {after}, mine.txt+results/r on the host: {kept}/2"

    run.__name__ = name
    case("ownership", host=True)(run)


_foreign("garbage_manifest_rsync", ".armjit-manifest.json", "{garbage")
_foreign("garbage_manifest_python", ".armjit-manifest.json", "{garbage", method="python")
_foreign("garbage_deploy_marker", ".armjit-deploy.json", "{}")
_foreign("copied_deploy_marker", ".armjit-deploy.json", None)
_foreign("copied_owner_file", ".armjit-workdir", None)
_foreign("copied_owner_file_python", ".armjit-workdir", None, method="python")
_foreign("empty_owner_file", ".armjit-workdir", "")
_foreign("copied_written_list", ".armjit-written", None)


def _adopt(name: str, *, with_repo: bool, empty_dirs: int) -> None:
    def run(ctx: dict[str, Any]) -> str:
        from armjit.seams import sync, workdir

        host = ssh(ctx)
        base = f"/srv/rt/{ctx['id']}"
        dirs = " ".join(f"{base}/w/empty{i}" for i in range(empty_dirs))
        host.run(
            f"mkdir -p {base}/w/sub {dirs} && for i in 1 2 3 4 5 6 7 8 9 10; do echo $i > {base}/w/f$i; done "
            f"&& echo s > {base}/w/sub/s",
            timeout=60,
        )
        lines: list[str] = []
        if with_repo:
            said = outcome(lambda: sync.sync_tree(host, repo(ctx), f"{base}/w", adopt=True, report=lines.append))
        else:
            adopt = getattr(workdir, "adopt", None)
            if adopt is not None:
                found = adopt(host, f"{base}/w")
                said = "; ".join(found.lines(host.name)) if found else "owned already"
            else:
                workdir.write_owner(host, f"{base}/w")
                said = "marked as armjit's (no listing)"
                sync.sync_tree(host, repo(ctx), f"{base}/w", method="rsync")
        files = host.run(f"find {base} -path {base}/w -prune -o -type f -print | wc -l").stdout.strip()
        host.close()
        shown = " | ".join(lines)[:160] if lines else said[:160]
        return f"{shown}; user files still on the host: {files}/11"

    run.__name__ = name
    case("ownership", host=True)(run)


_adopt("adopt_with_repo_counts_empty_dirs", with_repo=True, empty_dirs=2)
_adopt("adopt_without_repo_then_deploy", with_repo=False, empty_dirs=2)
_adopt("adopt_with_repo_no_empty_dirs", with_repo=True, empty_dirs=0)


_foreign("owner_file_of_an_earlier_armjit", ".armjit-workdir", "armjit work dir: each deploy deletes\n")
_foreign("adopt_dir_with_garbage_manifest", ".armjit-manifest.json", "{garbage", adopt=True)


@case("ownership", host=True)
def adopt_keeps_a_link_to_etc_inside_as_a_link(ctx: dict[str, Any]) -> str:
    from armjit.seams import sync

    host = ssh(ctx)
    base = f"/srv/rt/{ctx['id']}"
    host.run(f"mkdir -p {base}/w && ln -s /etc {base}/w/etc && echo m > {base}/w/mine.txt")
    before = remote_count(host, "/etc")
    said = outcome(lambda: sync.sync_tree(host, repo(ctx), f"{base}/w", method="rsync", adopt=True))
    after = remote_count(host, "/etc")
    host.close()
    return f"{said[:80]}; /etc entries {before} -> {after}"


@case("ownership", host=True)
def a_file_armjit_wrote_becomes_a_dir(ctx: dict[str, Any]) -> str:
    from armjit.seams import sync

    host = ssh(ctx)
    base = f"/srv/rt/{ctx['id']}"
    r = repo(ctx)
    sync.sync_tree(host, r, f"{base}/w", method="rsync")
    subprocess.run(["git", "rm", "-q", "README"], cwd=r, check=True)
    (r / "README").mkdir()
    (r / "README" / "inner").write_text("now a dir\n")
    subprocess.run(["git", "add", "-A"], cwd=r, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "d"], cwd=r, check=True)
    said = outcome(lambda: sync.sync_tree(host, r, f"{base}/w", method="rsync"))
    inner = host.run(f"cat {base}/w/README/inner").stdout.strip()
    host.close()
    return f"{said}; README/inner: {inner or 'missing'}"


@case("ownership", host=True)
def dropped_nested_file_and_its_empty_dirs_go_user_empty_dir_stays(ctx: dict[str, Any]) -> str:
    from armjit.seams import sync

    host = ssh(ctx)
    base = f"/srv/rt/{ctx['id']}"
    r = repo(ctx)
    (r / "deep" / "er").mkdir(parents=True)
    (r / "deep" / "er" / "x").write_text("x\n")
    env = ["-c", "user.name=t", "-c", "user.email=t@x"]
    subprocess.run(["git", "add", "-A"], cwd=r, check=True)
    subprocess.run(["git", *env, "commit", "-q", "-m", "d"], cwd=r, check=True)
    sync.sync_tree(host, r, f"{base}/w", method="rsync")
    host.run(f"mkdir -p {base}/w/my-empty")
    subprocess.run(["git", "rm", "-q", "-r", "deep"], cwd=r, check=True)
    subprocess.run(["git", *env, "commit", "-q", "-m", "e"], cwd=r, check=True)
    said = outcome(lambda: sync.sync_tree(host, r, f"{base}/w", method="rsync"))
    left = host.run(f"ls -d {base}/w/deep {base}/w/my-empty 2>/dev/null | xargs -n1 basename").stdout.split()
    host.close()
    return f"{said}; left: {', '.join(left) or 'nothing'}"


@case("ownership", host=True)
def user_file_in_owned_dir_survives_a_deploy(ctx: dict[str, Any]) -> str:
    from armjit.seams import sync

    host = ssh(ctx)
    base = f"/srv/rt/{ctx['id']}"
    r = repo(ctx)
    sync.sync_tree(host, r, f"{base}/w", method="rsync")
    host.run(f"echo mine > {base}/w/notes.txt && mkdir -p {base}/w/results && echo 1 > {base}/w/results/r")
    said = outcome(lambda: sync.sync_tree(host, r, f"{base}/w", method="rsync"))
    left = host.run(f"ls {base}/w/notes.txt {base}/w/results/r 2>/dev/null | wc -l").stdout.strip()
    host.close()
    return f"{said}; user files left {left}/2"


# -- 3: a lease fences -----------------------------------------------------------------------------


def _lease_pair(name: str, first_path: Callable[[Path], str], second_path: Callable[[Path], str]) -> None:
    def run(ctx: dict[str, Any]) -> str:
        from armjit.seams.hosts import LocalHost
        from armjit.seams.lease import Lease, owner_facts

        tmp = Path(ctx["tmp"])
        (tmp / "srv" / "w").mkdir(parents=True)
        (tmp / "srv" / "wlink").symlink_to(tmp / "srv" / "w")
        (tmp / "srv" / "rel").symlink_to("w")
        host = LocalHost()
        resolve = getattr(__import__("armjit.seams.workdir", fromlist=["x"]), "resolve_guarded", None)

        def key(path: str) -> str:
            return resolve(host, [(path, "--remote-workdir", 2)])[0] if resolve else path

        a = Lease(host, key(first_path(tmp)), owner_facts("run-a", "", "invoke baseline"))
        a.acquire(wait=False, timeout=1, notify=lambda _l: None)
        b = Lease(host, key(second_path(tmp)), owner_facts("run-b", "", "invoke baseline"))
        said = outcome(lambda: b.acquire(wait=False, timeout=1, notify=lambda _l: None))
        a.release()
        b.release()
        return said if said != "accepted" else "second run took its own lease: both run"

    run.__name__ = name
    case("lease")(run)


_lease_pair("alias_symlink", lambda t: f"{t}/srv/w", lambda t: f"{t}/srv/wlink")
_lease_pair("alias_relative_symlink", lambda t: f"{t}/srv/w", lambda t: f"{t}/srv/rel")
_lease_pair("alias_double_slash", lambda t: f"{t}/srv/w", lambda t: f"{t}//srv//w")
_lease_pair("alias_trailing_slash_dot", lambda t: f"{t}/srv/w", lambda t: f"{t}/srv/w/./")
_lease_pair("alias_symlinked_parent", lambda t: f"{t}/srv/w/sub", lambda t: f"{t}/srv/wlink/sub")


def _takeover(name: str, *, stop: bool, kill: bool, age: int) -> None:
    def run(ctx: dict[str, Any]) -> str:
        import signal

        from armjit.seams.hosts import LocalHost
        from armjit.seams.lease import Lease, lease_dir, owner_facts

        tmp = Path(ctx["tmp"])
        workdir = str(tmp / "w")
        ready = tmp / "ready"
        code = (
            f"import sys, time; sys.path.insert(0, {ctx['tree']!r}); from pathlib import Path\n"
            "from armjit.seams.hosts import LocalHost\nfrom armjit.seams.lease import Lease, owner_facts\n"
            f"l = Lease(LocalHost(), {workdir!r}, owner_facts('run-held', '', 'invoke baseline'))\n"
            "l.acquire(wait=False, timeout=1, notify=print); l.keep()\n"
            f"Path({str(ready)!r}).write_text('x'); time.sleep(120)\n"
        )
        holder = subprocess.Popen([sys.executable, "-c", code], cwd=ctx["tree"])
        for _ in range(300):
            if ready.exists():
                break
            time.sleep(0.1)
        if stop:
            holder.send_signal(signal.SIGSTOP)
        if kill:
            holder.kill()
            holder.wait()
        old = time.time() - age
        os.utime(Path(lease_dir(workdir)) / "heartbeat", (old, old))
        lines: list[str] = []
        taker = Lease(LocalHost(), workdir, owner_facts("run-b", "", "invoke baseline"))
        said = outcome(lambda: taker.acquire(wait=False, timeout=1, notify=lines.append))
        holder.kill()
        holder.wait()
        taker.release()
        warn = f" [{lines[0][:70]}]" if lines else ""
        return ("took the lease" if said == "accepted" else said[:80]) + warn

    run.__name__ = name
    case("lease")(run)


_takeover("stopped_holder_stale_heartbeat", stop=True, kill=False, age=145)
_takeover("live_holder_stale_heartbeat", stop=False, kill=False, age=300)
_takeover("killed_holder_fresh_heartbeat", stop=False, kill=True, age=0)
_takeover("killed_holder_stale_heartbeat", stop=False, kill=True, age=300)


def _recorded_holder(name: str, change: dict[str, Any], age: int) -> None:
    def run(ctx: dict[str, Any]) -> str:
        from armjit.seams.hosts import LocalHost
        from armjit.seams.lease import Lease, lease_dir, owner_facts

        tmp, host = Path(ctx["tmp"]), LocalHost()
        workdir = str(tmp / "w")
        facts = {**owner_facts("run-a", "", "invoke baseline"), **change}
        a = Lease(host, workdir, facts)
        a.acquire(wait=False, timeout=1, notify=lambda _l: None)
        a.keep()
        old = time.time() - age
        os.utime(Path(lease_dir(workdir)) / "heartbeat", (old, old))
        lines: list[str] = []
        b = Lease(host, workdir, owner_facts("run-b", "", "invoke baseline"))
        said = outcome(lambda: b.acquire(wait=False, timeout=1, notify=lines.append))
        b.release()
        warn = f" [{lines[0][:60]}]" if lines else ""
        return ("took the lease" if said == "accepted" else said[:70]) + warn

    run.__name__ = name
    case("lease")(run)


_recorded_holder("reused_pid_other_start_time", {"pid": 1, "process_start": 1}, 0)
_recorded_holder("holder_from_an_earlier_boot", {"pid": 1, "boot_id": "0000-earlier-boot"}, 0)
_recorded_holder("holder_on_another_machine_fresh", {"machine": "elsewhere", "pid": 1}, 0)
_recorded_holder("holder_on_another_machine_stale", {"machine": "elsewhere", "pid": 1}, 300)
_recorded_holder("holder_alive_fresh_heartbeat", {}, 0)


@case("lease")
def fenced_process_release_leaves_the_new_lease(ctx: dict[str, Any]) -> str:
    from armjit.seams.hosts import LocalHost
    from armjit.seams.lease import Lease, holder_of, owner_facts

    tmp, host = Path(ctx["tmp"]), LocalHost()
    a = Lease(host, str(tmp / "w"), owner_facts("run-a", "", "b"))
    a.acquire(wait=False, timeout=1, notify=lambda _l: None)
    again = Lease(host, str(tmp / "w"), owner_facts("run-a", "", "attach"))
    again.acquire(wait=False, timeout=1, notify=lambda _l: None)
    a.release()
    held = holder_of(host, str(tmp / "w"))
    again.release()
    return "the attach's lease is still there" if held else "the old process removed the new holder's lease"


@case("lease")
def shared_driver_venv(ctx: dict[str, Any]) -> str:
    from armjit.seams.hosts import LocalHost
    from armjit.seams.lease import Lease, owner_facts

    tmp, host = Path(ctx["tmp"]), LocalHost()
    venv = str(tmp / "venv-driver")
    extra: dict[str, Any] = {"also": [venv]} if "also" in Lease.__init__.__code__.co_varnames else {}
    a = Lease(host, str(tmp / "w1"), owner_facts("run-a", "", "b"), **extra)
    a.acquire(wait=False, timeout=1, notify=lambda _l: None)
    b = Lease(host, str(tmp / "w2"), owner_facts("run-b", "", "b"), **extra)
    said = outcome(lambda: b.acquire(wait=False, timeout=1, notify=lambda _l: None))
    a.release()
    b.release()
    return said if said != "accepted" else "both hold the driver venv"


@case("lease")
def lost_lease_is_noticed(ctx: dict[str, Any]) -> str:
    from armjit.seams.hosts import LocalHost
    from armjit.seams.lease import Lease, owner_facts

    tmp, host = Path(ctx["tmp"]), LocalHost()
    a = Lease(host, str(tmp / "w"), owner_facts("run-a", "", "b"))
    a.acquire(wait=False, timeout=1, notify=lambda _l: None)
    again = Lease(host, str(tmp / "w"), owner_facts("run-a", "", "attach"))  # attach elsewhere takes it
    again.acquire(wait=False, timeout=1, notify=lambda _l: None)
    check = getattr(a, "check", None)
    said = outcome(check) if check else "no check: the old process goes on"
    again.release()
    return said


# -- driver -----------------------------------------------------------------------------------------


def child(tree: str, name: str, ctx: dict[str, Any]) -> None:
    sys.path.insert(0, tree)
    os.environ["ARMJIT_STATE_DIR"] = str(Path(ctx["tmp"]) / "state")
    SHORT.update({f"/srv/rt/{ctx['id']}": "$D", ctx["tmp"]: "$T"})
    print("RESULT " + short(CASES[name][2](ctx)).replace("\n", " "), flush=True)


def run_case(tree: Path, name: str, ctx: dict[str, Any]) -> str:
    with tempfile.TemporaryDirectory(prefix="armjit-redteam-") as tmp:
        data = {**ctx, "tmp": tmp, "tree": str(tree), "id": f"{name}-{tree.name}-{os.getpid()}"}
        argv = [sys.executable, __file__, "--child", str(tree), name, json.dumps(data)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tree, check=False)
        except subprocess.TimeoutExpired:
            return "hung (killed after 60 s)"
        for line in done.stdout.splitlines():
            if line.startswith("RESULT "):
                return line[7:]
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"crashed: {tail[:100]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path)
    parser.add_argument("--after", type=Path, default=HERE.parent)
    parser.add_argument("--only", default="")
    parser.add_argument("--kind", default="")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], json.loads(args.child[2]))
        return
    sys.path.insert(0, str(HERE.parent / "tests"))
    from e2e.sandbox import sandbox_host

    print("| kind | case | before | after |\n|---|---|---|---|")
    for name, (kind, on_host, fn) in CASES.items():
        if (args.only and args.only not in name) or (args.kind and args.kind != kind):
            continue
        cells = []
        for label, tree in (("before", args.before), ("after", args.after)):
            if tree is None:
                cells.append("not run")
            elif label == "before" and getattr(fn, "local_etc", False):
                cells.append("not run here (would write this machine's /etc)")
            elif on_host:
                # A fresh overlay per host case and tree: a broken guard may wreck the one it ran in.
                with sandbox_host(shared_ccache=False) as sandbox:
                    ctx = {"port": sandbox.port, "key": str(sandbox.key_path)}
                    ctx["known_hosts"] = str(sandbox.known_hosts_path)
                    cells.append(run_case(tree.resolve(), name, ctx))
            else:
                cells.append(run_case(tree.resolve(), name, {}))
        print(f"| {kind} | {name} | {cells[0]} | {cells[1]} |".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
