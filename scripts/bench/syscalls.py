"""Syscalls per stream for `scripts/bench/run --syscalls`: `perf stat` on
a target's workers over the measured window. The syscall tables in
docs/performance.md come from it. perf (Debian's linux-perf) is optional:
without it, or without tracepoint access, rows carry no counts."""
import shutil
import subprocess

NAMES = ("writev", "write", "sendto", "recvfrom", "read", "epoll_wait",
         "epoll_ctl", "poll", "accept4", "close", "connect", "getsockopt")


def start(pids, seconds):
    """perf stat counting NAMES in pids for seconds; None without perf."""
    perf = shutil.which("perf")
    if perf is None or not pids:
        return None
    events = ",".join("syscalls:sys_enter_" + n for n in NAMES)
    return subprocess.Popen(
        [perf, "stat", "-x,", "-e", events, "-p", ",".join(map(str, pids)),
         "--", "sleep", str(seconds)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


def per_stream(proc, streams):
    """{syscall: calls per stream} from a start(); {} when it counted none."""
    if proc is None or streams <= 0:
        return {}
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {}
    counts = {}
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0].isdigit() and "sys_enter_" in f[2]:
            n = int(f[0])
            if n:
                counts[f[2].split("sys_enter_")[1]] = round(n / streams, 2)
    return counts
