"""Test hosts on a real network: Linux network namespaces on one bridge, each a host with its own address.

Each host is a network namespace with its own loopback and one end of a veth
pair; the other ends hang on a bridge in a namespace of its own (the switch).
The addresses are private and exist only inside those namespaces: the root
namespace gets no interface, no route and no listening socket. The hosts
share this machine's file system, as machines sharing a mount would.
`Network` makes and deletes them; `Network.start` runs a long-lived program
on a host, and `stop` ends it (and what it started) by its PID.
"""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

SUBNET = "10.231.0"  # a /24 that lives only on the test switch
IP = shutil.which("ip") or "/usr/sbin/ip"  # iproute2; /usr/sbin may not be on a user's PATH


def ip(*args):
    subprocess.run([IP, *args], check=True, capture_output=True, timeout=30)


def can_make_namespaces():
    """Whether this process may make network namespaces (root, and a kernel that allows it)."""
    if os.geteuid() != 0 or not os.path.exists(IP):
        return False
    probe = f"jfprobe{os.getpid()}"
    done = subprocess.run([IP, "netns", "add", probe], capture_output=True)
    if done.returncode != 0:
        return False
    subprocess.run([IP, "netns", "del", probe], capture_output=True)
    return True


class Network:
    """Hosts named `names`, each a namespace with address SUBNET.N, on one switch.

    `tag` starts every namespace's name: by default one of this process, so
    two Networks of one process need tags of their own.
    """

    def __init__(self, names, tag=None):
        self.tag = tag or f"jf{os.getpid()}"
        self.switch = f"{self.tag}-switch"
        self.namespaces = {name: f"{self.tag}-{name}" for name in names}
        self.address = {name: f"{SUBNET}.{n}" for n, name in enumerate(names, start=10)}
        self.procs = []

    def __enter__(self):
        try:
            ip("netns", "add", self.switch)
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
            for n, (name, ns) in enumerate(self.namespaces.items()):
                ip("netns", "add", ns)
                ip("-n", ns, "link", "set", "lo", "up")
                # Both ends are made inside namespaces: nothing appears in the root one.
                ip("-n", self.switch, "link", "add", f"port{n}", "type", "veth", "peer", "name", "eth0", "netns", ns)
                ip("-n", self.switch, "link", "set", f"port{n}", "master", "br0", "up")
                ip("-n", ns, "addr", "add", f"{self.address[name]}/24", "dev", "eth0")
                ip("-n", ns, "link", "set", "eth0", "up")
        except BaseException:
            self.delete()
            raise
        return self

    def __exit__(self, *exc):
        self.delete()

    def delete(self):
        for proc in reversed(self.procs):
            stop(proc)
        for ns in [*self.namespaces.values(), self.switch]:
            subprocess.run([IP, "netns", "del", ns], capture_output=True, timeout=30)

    def command(self, host, argv):
        """`argv` as run on `host`."""
        return [IP, "netns", "exec", self.namespaces[host], *argv]

    def run(self, host, argv, timeout=120, **kwargs):
        """Run `argv` on `host` to its end; return the CompletedProcess."""
        return subprocess.run(self.command(host, argv), capture_output=True, timeout=timeout, **kwargs)

    def start(self, host, argv, log, env=None, cwd=None):
        """Start a long-lived program on `host` in its own process group, output to `log`; stopped on exit."""
        with open(log, "wb") as out:
            # ip netns exec execs the program: its PID is the program's.
            proc = subprocess.Popen(self.command(host, argv), stdout=out, stderr=subprocess.STDOUT,
                                    env=env, cwd=cwd, start_new_session=True)
        self.procs.append(proc)
        return proc

    def outside(self):
        """PIDs of the processes started here (and their children) that are not in a test host's namespace."""
        ours = {os.stat(f"/run/netns/{ns}").st_ino for ns in [*self.namespaces.values(), self.switch]}
        groups = {proc.pid for proc in self.procs if proc.poll() is None}
        strays = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) in groups and os.stat(entry / "ns" / "net").st_ino not in ours:
                    strays.append(int(entry.name))
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                continue
        return strays


def stop(proc):
    """Stop a program started in its own process group, and whatever it started, by its PID."""
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while group_alive(proc) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not group_alive(proc):
            break
    proc.wait()


def group_alive(proc):
    proc.poll()  # reap the leader, or the group looks alive while it is a zombie
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True
