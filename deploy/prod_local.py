"""The production layout on one machine (nginx, gunicorn, komma workers, komma cron), to try and to test.

Everything runs as in production (KOMMA_ENV=production, the shipped gunicorn.conf.py, the nginx
server block of deploy/nginx/komma-server.conf) against a PostgreSQL and a Redis on loopback;
only TLS is left out and nginx listens on a loopback port. Secret key and receipt pepper are
generated once into the work dir (secrets.env), so a restart keeps receipt codes working.

From the shell (`make prod` does this with --port $(PROD_PORT)):

    .venv/bin/python -m deploy.prod_local [--workdir instance/prod] [--port 8080] [--workers 2]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/komma]
        [--redis-url redis://127.0.0.1:6379/0] [--smtp-url smtp://127.0.0.1:25]

creates the database if missing, migrates (`komma db upgrade`), creates the demo (`komma demo`,
printing its logins), starts everything, prints one line with the URL and runs in the
foreground, restarting a process that ends (as systemd's Restart=always does) until Ctrl-C.
Defaults come from KOMMA_DATABASE_URL, KOMMA_REDIS_URL and KOMMA_SMTP_URL when set.

From Python (tests, benches):

    layout = ProductionLayout(workdir, database_url, redis_url, proxy_port=0, workers=2)  # 0: a free port
    layout.migrate()          # komma db upgrade (not needed on an already migrated database)
    layout.start()            # web (gunicorn), workers, cron, then nginx
    layout.wait_ready()       # /healthz through nginx answers 200, every worker registered in RQ
    layout.url                # http://127.0.0.1:<proxy_port>
    layout.web.kill(); layout.web.start()            # each process: start/stop/kill/running/pid
    layout.workers[0].stop(); layout.cron.kill(); layout.nginx.stop()
    layout.komma("outbox", "relay")                  # any komma command, with the layout's env
    layout.log_files()        # what the processes wrote (logs/<name>.log)
    layout.stop()             # or: with ProductionLayout(...) as layout: ...

Each process runs in a process group of its own; kill() sends SIGKILL to the whole group (a
crash: gunicorn with its workers, a komma worker with its work horse); stop() asks it to end
as systemd would (SIGTERM) and kills what is left after its grace time.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from types import TracebackType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEPLOY = PROJECT_ROOT / "deploy"
HOST = "127.0.0.1"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/komma"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# What `komma` runs (core.cli:main), without needing the console script on PATH.
KOMMA = [sys.executable, "-c", "from core.cli import main; main()"]
# Never through an HTTP proxy from the environment: the layout is on loopback.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LayoutError(RuntimeError):
    """The layout could not start or did not become ready; the message carries the logs' tails."""


def find_nginx() -> str | None:
    """Debian's nginx binary (in /usr/sbin, which a user's PATH may lack), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class LayoutProcess:
    """One process of the layout, in a process group of its own, appending its output to one log."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        log: Path,
        *,
        cwd: Path = PROJECT_ROOT,
        grace: float = 40.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log = log
        self.cwd = cwd
        # How long stop() waits after SIGTERM (gunicorn's graceful_timeout is 30 s).
        self.grace = grace
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def __repr__(self) -> str:
        return f"<LayoutProcess {self.name} pid={self.pid} running={self.running}>"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def start(self) -> None:
        """Start it unless it is running; output goes on at the end of its log."""
        if self.running:
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - the layout's own programs, no shell
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, signum: int) -> None:
        """Send a signal to the process itself (not its group), e.g. SIGHUP to reload gunicorn."""
        if self.running and self.process is not None:
            with suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, as systemd stops a unit; SIGKILL to the group after the grace time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.grace if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.process.wait(timeout=10)
        # Whatever of its group outlived it (a work horse, a gunicorn worker).
        self._kill_group()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to the whole group at once: the process and its children crash."""
        if self.process is None:
            return
        self._kill_group()
        self.process.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _kill_group(self) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def app_body_limit(max_request_bytes: int) -> int:
    """The largest body the app behind gunicorn accepts: one byte under MAX_CONTENT_LENGTH.

    gunicorn sets wsgi.input_terminated, so Werkzeug reads the body through a LimitedStream
    with the maximum as its limit, which refuses (413) a body of exactly that length when it
    tries the read that would find the end. nginx's limit is set to what the app really takes,
    so that every body over it gets nginx's 413 page before gunicorn sees any of it.
    """
    return max_request_bytes - 1


def nginx_conf(
    *,
    nginx_dir: Path,
    listen_port: int,
    upstream_port: int,
    pages: Path,
    body_limit: int,
) -> str:
    """A whole nginx.conf around deploy/nginx/komma-server.conf: what Debian's nginx.conf and the
    site file give in production, with every path inside nginx_dir and a loopback port."""
    # As root the master would start its workers as "nobody", who cannot enter a private work dir.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {nginx_dir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# Generated by deploy/prod_local.py; the server block is {DEPLOY / "nginx" / "komma-server.conf"}.
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 8192;
pid {nginx_dir / "nginx.pid"};
error_log stderr emerg;
{user}
events {{
    worker_connections 4096;
}}

http {{
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log off;
    error_log stderr emerg;
{temp}

    include {DEPLOY / "nginx" / "komma-http.conf"};

    upstream komma_web {{
        server {HOST}:{upstream_port};
    }}

    server {{
        listen {HOST}:{listen_port} default_server;
        server_name _;
        root {pages};
        client_max_body_size {body_limit};
        include {DEPLOY / "nginx" / "komma-server.conf"};
    }}
}}
"""


class ProductionLayout:
    """nginx -> gunicorn (the shipped gunicorn.conf.py) + `komma worker` x N + `komma cron`."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        redis_url: str,
        smtp_url: str | None = None,
        *,
        proxy_port: int = 0,
        web_port: int = 0,
        workers: int = 2,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        nginx = find_nginx()
        if nginx is None:
            raise LayoutError("nginx is not installed (make prod-deps installs Debian's nginx)")
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)  # it holds the secrets
        self.database_url = database_url
        self.redis_url = redis_url
        self.smtp_url = smtp_url
        self.proxy_port = proxy_port or free_port()
        self.web_port = web_port or free_port()
        self.logs = self.workdir / "logs"
        self.pages = self.workdir / "pages"
        self.nginx_dir = self.workdir / "nginx"
        self.env = self._environment(dict(extra_env or {}))

        self.web = self.process(
            "web", [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py"), "wsgi:app"]
        )
        self.workers = [self.process(f"worker-{n}", [*KOMMA, "worker"]) for n in range(1, workers + 1)]
        self.cron = self.process("cron", [*KOMMA, "cron"])
        self.nginx = self.process(
            "nginx", [nginx, "-e", "stderr", "-p", str(self.nginx_dir), "-c", str(self.nginx_dir / "nginx.conf")]
        )

    # What it is --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where a browser goes: nginx on its loopback port."""
        return f"http://{HOST}:{self.proxy_port}"

    @property
    def web_url(self) -> str:
        """gunicorn itself, behind nginx (for checks that must bypass the proxy)."""
        return f"http://{HOST}:{self.web_port}"

    @property
    def processes(self) -> list[LayoutProcess]:
        return [self.web, *self.workers, self.cron, self.nginx]

    def process(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> LayoutProcess:
        """A process with the layout's environment (plus env) and a log in its logs folder."""
        return LayoutProcess(name, argv, {**self.env, **(env or {})}, self.logs / f"{name}.log")

    def log_files(self) -> list[Path]:
        """Every file the processes log to (and anything else named *.log in the work dir)."""
        return sorted({*self.logs.glob("*.log"), *self.workdir.rglob("*.log")})

    @property
    def body_limit(self) -> int:
        """The largest request body the app takes under this environment: nginx's client_max_body_size."""
        from core.config import Config

        return app_body_limit(Config.from_env(self.env).max_request_bytes)

    # Start and stop ----------------------------------------------------------------------------

    def komma(self, *args: str, timeout: float = 180) -> str:
        """Run a komma command to its end with the layout's environment; its output, or LayoutError."""
        done = subprocess.run(  # noqa: S603 - the project's own command, no shell
            [*KOMMA, *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise LayoutError(f"komma {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def migrate(self) -> None:
        self.komma("db", "upgrade")

    def demo(self) -> str:
        """`komma demo`: the demo municipality (slug musterstadt) and staff; returns what it printed."""
        return self.komma("demo")

    def prepare(self) -> None:
        """The files the processes need: the error pages nginx serves and nginx's configuration."""
        for folder in (self.logs, self.nginx_dir, self.pages, self.workdir / "tmp", self.workdir / "instance"):
            folder.mkdir(parents=True, exist_ok=True)
        self.komma_python("-m", "deploy.error_pages", str(self.pages))
        self.write_nginx_conf(self.nginx_dir, self.proxy_port, self.web_port)

    def write_nginx_conf(self, nginx_dir: Path, listen_port: int, upstream_port: int) -> Path:
        """An nginx.conf in nginx_dir for listen_port -> upstream_port; also for a bench's second site."""
        nginx_dir.mkdir(parents=True, exist_ok=True)
        path = nginx_dir / "nginx.conf"
        path.write_text(
            nginx_conf(
                nginx_dir=nginx_dir,
                listen_port=listen_port,
                upstream_port=upstream_port,
                pages=self.pages,
                body_limit=self.body_limit,
            )
        )
        nginx = self.nginx.argv[0]
        check = subprocess.run(  # noqa: S603 - Debian's nginx, no shell
            [nginx, "-t", "-q", "-e", "stderr", "-p", str(nginx_dir), "-c", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise LayoutError(f"nginx refuses {path}:\n{check.stderr}")
        return path

    def komma_python(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - the project's own module, no shell
            [sys.executable, *args], cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise LayoutError(f"python {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> None:
        """Start every process that is not running: web first, nginx last (it only forwards)."""
        self.prepare()
        for process in (self.web, *self.workers, self.cron, self.nginx):
            process.start()

    def stop(self) -> None:
        """SIGTERM to all, nginx first (no new requests), then gunicorn (finishing what it has),
        cron and the workers; each is waited for (and killed after its grace time) in that order."""
        ordered = (self.nginx, self.web, self.cron, *self.workers)
        for process in ordered:
            process.signal(signal.SIGTERM)
        for process in ordered:
            process.stop()

    def __enter__(self) -> ProductionLayout:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 60) -> None:
        """Until /healthz through nginx answers 200 and each running komma worker is registered in RQ."""
        deadline = time.monotonic() + timeout
        waiting_for = "nothing yet"
        while time.monotonic() < deadline:
            ended = [p for p in self.processes if p.starts and not p.running]
            if ended:
                raise LayoutError(self.describe(f"{', '.join(p.name for p in ended)} ended while starting"))
            waiting_for = self._not_ready()
            if not waiting_for:
                return
            time.sleep(0.2)
        raise LayoutError(self.describe(f"not ready after {timeout:.0f} s: waiting for {waiting_for}"))

    def _not_ready(self) -> str:
        try:
            with _DIRECT.open(f"{self.url}/healthz", timeout=5) as response:
                if response.status != 200:
                    return f"/healthz (status {response.status})"
        except (urllib.error.URLError, OSError) as exc:
            return f"/healthz ({exc})"
        expected = {p.pid for p in self.workers if p.running}
        registered = self.registered_workers()
        if not expected <= registered:
            return f"komma workers to register in RQ ({len(expected & registered)} of {len(expected)})"
        return ""

    def registered_workers(self) -> set[int]:
        """The pids of the RQ workers registered in the layout's Redis."""
        from redis import Redis
        from redis.exceptions import RedisError
        from rq import Worker

        connection = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return {worker.pid for worker in Worker.all(connection=connection) if worker.pid}
        except RedisError:
            return set()
        finally:
            connection.close()

    def describe(self, what: str, lines: int = 25) -> str:
        """A message with the end of each process's log."""
        tails = []
        for process in self.processes:
            tail = "\n".join(process.output().splitlines()[-lines:])
            tails.append(f"--- {process.name} ({'running' if process.running else 'not running'}) ---\n{tail}")
        return what + "\n" + "\n".join(tails)

    # The environment ---------------------------------------------------------------------------

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        # The caller's KOMMA_* settings stay out: the layout says exactly what it runs with.
        env = {name: value for name, value in os.environ.items() if not name.startswith("KOMMA_")}
        env.update(self._secrets())
        env.update(
            {
                "KOMMA_ENV": "production",
                "KOMMA_DATABASE_URL": self.database_url,
                "KOMMA_REDIS_URL": self.redis_url,
                "KOMMA_INSTANCE_PATH": str(self.workdir / "instance"),
                "KOMMA_BASE_URL": self.url,
                "KOMMA_BIND": f"{HOST}:{self.web_port}",
                # Uploads the app spools to temp files stay in the work dir.
                "TMPDIR": str(self.workdir / "tmp"),
                # Log lines reach the log files at once, not when a buffer fills.
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.smtp_url:
            env["KOMMA_SMTP_URL"] = self.smtp_url
        env.update(extra)
        # What the processes run with, in systemd's EnvironmentFile format, to read or reuse.
        settings = self.workdir / "komma.env"
        settings.touch(mode=0o600)
        settings.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items()) if k.startswith("KOMMA_")))
        return env

    def _secrets(self) -> dict[str, str]:
        """Secret key, receipt pepper and key binding key, generated on first start and kept in the work dir.

        A secret added by a later version is appended to an existing file; the others stay as they are.
        """
        path = self.workdir / "secrets.env"
        if not path.exists():
            path.touch(mode=0o600)
        names = (
            "KOMMA_SECRET_KEY",
            "KOMMA_RECEIPT_PEPPER",
            "KOMMA_KEY_BINDING_KEY",
            "KOMMA_NOTIFY_KEY",
            "KOMMA_AUDIT_KEY",
        )
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        missing = [name for name in names if name not in values]
        if missing:
            with path.open("a") as file:
                for name in missing:
                    values[name] = secrets.token_urlsafe(48)
                    file.write(f"{name}={values[name]}\n")
        return {k: values[k] for k in names}


# `make prod` -------------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in url if it does not exist yet."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return
    engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(parsed.database)
                connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()


def supervise(layout: ProductionLayout) -> Iterator[str]:
    """Restart whatever ended, as systemd's Restart=always would; yields one line per restart."""
    while True:
        for process in layout.processes:
            if not process.running:
                code = process.returncode
                process.start()
                yield f"{process.name} ended ({code}); started again, see {process.log}"
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "instance" / "prod")
    parser.add_argument("--database-url", default=os.environ.get("KOMMA_DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=os.environ.get("KOMMA_REDIS_URL") or DEFAULT_REDIS_URL)
    parser.add_argument("--smtp-url", default=os.environ.get("KOMMA_SMTP_URL") or None)
    parser.add_argument("--port", type=int, default=8080, help="nginx's loopback port")
    parser.add_argument("--workers", type=int, default=2, help="number of `komma worker` processes")
    args = parser.parse_args()

    def _terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    layout = ProductionLayout(
        args.workdir, args.database_url, args.redis_url, args.smtp_url, proxy_port=args.port, workers=args.workers
    )
    try:
        ensure_database(args.database_url)
        layout.migrate()
        print(layout.demo().rstrip(), flush=True)
        layout.start()
        layout.wait_ready()
        print(
            f"Komm.A Meldestelle (production layout) at {layout.url}/ - logs in {layout.logs}, Ctrl-C stops", flush=True
        )
        for line in supervise(layout):
            print(line, flush=True)
    except KeyboardInterrupt:
        pass
    except LayoutError as error:
        raise SystemExit(str(error)) from None
    finally:
        layout.stop()


if __name__ == "__main__":
    main()
