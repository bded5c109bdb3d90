"""A real PostgreSQL for the tests (Debian's postgresql, /usr/lib/postgresql/
VERSION/bin): initdb in a temp directory, served on a unix socket only,
as the postgres user when the tests run as root; seeded with
scripts/seed-postgres; stopped after.
"""
import glob
import os
import shutil
import subprocess
import tempfile

import util

SEED = os.path.join(util.ROOT, "scripts", "seed-postgres")


def pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class Postgres:
    def __init__(self):
        # Not under pytest's tmp_path: that is root's alone (0700), and the
        # server runs as postgres. A short path, too: the socket's must fit.
        self.dir = tempfile.mkdtemp(prefix="llmfork-pg-")
        self.data = os.path.join(self.dir, "data")
        self.bin = pg_bin()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir, 0o755)
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C")
        self._run("pg_ctl", "-D", self.data, "-w", "-l",
                  os.path.join(self.dir, "log"), "-o",
                  "-k %s -c listen_addresses='' -c max_connections=50"
                  % self.dir, "start")

    def _run(self, prog, *args):
        cmd = [os.path.join(self.bin, prog), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        assert r.returncode == 0, "%s: %s" % (prog, r.stderr)

    def env(self, db="postgres"):
        return {"POSTGRES_HOST": self.dir, "POSTGRES_USERNAME": "postgres",
                "POSTGRES_DATABASE": db, "POSTGRES_SSL": "disable"}

    def psql(self, sql, db="postgres"):
        r = subprocess.run(["psql", "-X", "-q", "-tA", "-h", self.dir, "-U",
                            "postgres", "-d", db, "-v", "ON_ERROR_STOP=1",
                            "-c", sql], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        return [l.split("|") for l in r.stdout.splitlines() if l]

    def session(self, db="postgres"):
        """An interactive psql (stdin kept open): write SQL to .stdin."""
        return subprocess.Popen(["psql", "-X", "-q", "-h", self.dir, "-U",
                                 "postgres", "-d", db], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True)

    def seed(self, *args, db="postgres"):
        env = dict(os.environ, **self.env(db))
        subprocess.run([SEED, *args], check=True, env=env, timeout=60,
                       stdout=subprocess.DEVNULL)

    def stop(self):
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
