"""Helpers shared by bench/ingest/run and bench/query/run: building helpers,
starting the agent on a config and finding its HTTP port, reading a process's
CPU clock, peak RSS and bytes written, and describing the machine."""
import os
import pathlib
import re
import signal
import statistics
import subprocess
import sys
import time

SOURCE = pathlib.Path(__file__).resolve().parent.parent.parent


def say(text=""):
    print(text, flush=True)


def die(name, text):
    print(f"bench/{name}: {text}", file=sys.stderr, flush=True)
    sys.exit(1)


def build_dir(name):
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1].startswith("-")):
        die(name, f"usage: bench/{name}/run [BUILD_DIR]")
    build = pathlib.Path(sys.argv[1] if len(sys.argv) == 2 else SOURCE / "build").resolve()
    if not (build / "build.ninja").exists():
        die(name, f"{build} is not a configured meson build dir")
    return build


def build_targets(build, targets):
    # The marker lets the agent find plugins in the build tree's subfolders;
    # a targeted build would not make it in a fresh build dir.
    marker = "plugins/.vitals-build-tree"
    if any(t.startswith("core/vitals") for t in targets) and marker not in targets:
        targets = [*targets, marker]
    say(f"== building {' '.join(targets)} in {build}")
    subprocess.run(["nice", "ninja", "-C", str(build), *targets], check=True, stdout=subprocess.DEVNULL)


def cpu_seconds(pid):
    """CPU time of the whole process (all threads) so far, ns resolution: the
    process CPU clock, as clock_getcpuclockid() builds its id
    ((~pid << 3) | CPUCLOCK_SCHED)."""
    return time.clock_gettime(((~pid) << 3) | 2)


def peak_rss_mb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def write_bytes(pid):
    """Bytes the process (all its threads) has sent to be written to storage
    so far: /proc/<pid>/io's write_bytes, counted when page-cache pages are
    dirtied (so a page dirtied again before writeback counts once), not when
    the disk writes them."""
    for line in pathlib.Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError(f"no write_bytes for pid {pid}")


def env_without_systemd():
    env = dict(os.environ)
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "STATE_DIRECTORY", "CONFIGURATION_DIRECTORY"):
        env.pop(key, None)
    return env


class Agent:
    """`vitals run` on one config file; `port` is the HTTP API's port, read
    from the "HTTP API on 127.0.0.1:PORT" log line. After stop(), `rusage`
    is what the process used over its whole life, shutdown included (None if
    it had exited by itself)."""

    def __init__(self, name, vitals, run_dir, config_text):
        self.name = name
        self.run_dir = pathlib.Path(run_dir)
        conf = self.run_dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "bench.toml").write_text(config_text)
        (self.run_dir / "data").mkdir(exist_ok=True)
        self.log_path = self.run_dir / "vitals.log"
        self.log = open(self.log_path, "wb")
        self.rusage = None
        self.proc = subprocess.Popen(
            [str(vitals), "run", "--config-dir", str(conf), "--data-dir", str(self.run_dir / "data")],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env_without_systemd())
        self.port = self._wait_for_port()

    @property
    def pid(self):
        return self.proc.pid

    def _wait_for_port(self, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        pattern = re.compile(rb"HTTP API on 127\.0\.0\.1:(\d+)")
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()
            m = pattern.search(text)
            if m and b"pipeline started" in text:
                return int(m.group(1))
            if self.proc.poll() is not None:
                die(self.name, f"vitals exited ({self.proc.returncode}) at start:\n" + text.decode(errors="replace")[-2000:])
            time.sleep(0.02)
        self.stop()
        die(self.name, f"vitals did not report its HTTP port within {timeout_s} s; see {self.log_path}")

    def check_alive(self):
        if self.proc.poll() is not None:
            die(self.name, f"vitals exited ({self.proc.returncode}); see {self.log_path}:\n"
                + self.log_path.read_text(errors="replace")[-2000:])

    def stop(self, timeout_s=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            # Reaped with wait4 rather than Popen.wait for the exited
            # process's rusage (/proc/<pid> is gone by then).
            deadline = time.monotonic() + timeout_s
            while True:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
                if pid:
                    self.proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
                    self.rusage = usage
                    break
                if time.monotonic() > deadline:
                    self.proc.kill()
                    self.proc.wait()
                    die(self.name, f"vitals did not exit within {timeout_s} s of SIGTERM")
                time.sleep(0.02)
        rc = self.proc.returncode
        self.log.close()
        if rc != 0:
            die(self.name, f"vitals exited {rc} on SIGTERM; see {self.log_path}")
        return rc


def parse_size(text):
    """Bytes in a size as the agent's config writes it: 8MiB, 256KiB, 1GiB, 0."""
    units = {"KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "B": 1}
    for unit, k in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * k)
    return int(text)


def rss_split_mb(pid):
    """Current resident memory by kind: anonymous (heap, stacks: the process's
    own), file-backed (mapped files: libraries, and a database read through
    mmap), shared memory (such as SQLite's -shm index), from /proc/<pid>/status."""
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0]) / 1024
    return out


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown")
    return f"{os.cpu_count()} CPUs, {model}, Linux {os.uname().release}, load average {os.getloadavg()[0]:.2f}"


def median(values):
    return statistics.median(values) if values else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def verdict(ok):
    return "met" if ok else "MISSED"


def sqlite_scalar(db, sql):
    """One value from the database file, through the sqlite3 CLI (Debian's
    sqlite3, installed by scripts/install-deps), else Python's sqlite3."""
    try:
        out = subprocess.run(["sqlite3", str(db), sql], check=True, capture_output=True, text=True).stdout.strip()
        return int(out) if out else None
    except FileNotFoundError:
        import sqlite3
        with sqlite3.connect(str(db)) as conn:
            return conn.execute(sql).fetchone()[0]
