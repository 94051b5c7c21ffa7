"""CLI: python -m stack up|down|status|logs|env."""
from __future__ import annotations

import argparse
import shlex
import sys
import time

from service_config import load

from .process import StackError, tail_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description="Local stack manager (no Docker).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="install (first time) and start services; default: kafka mongo redis s3 triton")
    p_up.add_argument("services", nargs="*")
    p_up.add_argument("--all", action="store_true", help="also the app services (frontdoor, workers)")
    p_up.add_argument("--timeout", type=float, help="health deadline per service in seconds "
                                                    "(default per service; env STACK_START_TIMEOUT)")
    p_down = sub.add_parser("down", help="stop services the stack started (default: all)")
    p_down.add_argument("services", nargs="*")
    p_down.add_argument("--timeout", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL")
    p_restart = sub.add_parser("restart", help="down then up")
    p_restart.add_argument("services", nargs="+")
    p_status = sub.add_parser("status", help="table of services, pids, ports, health, memory")
    p_status.add_argument("services", nargs="*")
    p_logs = sub.add_parser("logs", help="tail a service's log")
    p_logs.add_argument("service")
    p_logs.add_argument("-n", type=int, default=50, help="lines (default 50)")
    p_logs.add_argument("-f", "--follow", action="store_true")
    sub.add_parser("env", help="print `export VAR=value` lines for the clients")
    args = parser.parse_args(argv)

    from . import manager  # here, not at the top: keeps `env` light

    try:
        if args.command == "up":
            manager.up(args.services, include_all=args.all, timeout=args.timeout)
        elif args.command == "down":
            manager.down(args.services, timeout=args.timeout)
        elif args.command == "restart":
            manager.down(args.services)
            manager.up(args.services)
        elif args.command == "status":
            return _print_status(manager.status(names=args.services))
        elif args.command == "logs":
            return _logs(args.service, args.n, args.follow)
        elif args.command == "env":
            from .apps import client_env

            for name, value in client_env(load()).items():
                print(f"export {name}={shlex.quote(value)}")
    except StackError as exc:
        print(f"[stack] ERROR {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _print_status(rows) -> int:
    print(f"{'SERVICE':<10} {'PID':<24} {'PORT':>6} {'HEALTHY':<8} {'RSS MiB':>8}")
    for row in rows:
        pids = ",".join(map(str, row.pids)) or "-"
        print(f"{row.name:<10} {pids:<24} {row.port:>6} {'yes' if row.healthy else 'no':<8} {row.rss_mib:>8.0f}")
        if row.leftovers:
            print(f"{'':<10} left behind by a dead {row.name}: pid {', '.join(map(str, row.leftovers))} "
                  f"(`up {row.name}` or `down {row.name}` stops them)")
    return 0


def _logs(service: str, n: int, follow: bool) -> int:
    from .base import Context
    from .registry import registry

    ctx = Context()
    if service not in registry() and not ctx.log(service).exists():
        raise StackError(service, f"unknown service; known: {', '.join(registry())}")
    log = ctx.log(service)
    if not log.exists():
        raise StackError(service, f"no log yet at {log}")
    for line in tail_file(log, n):
        print(line)
    if follow:
        with open(log, "rb") as handle:
            handle.seek(0, 2)
            while True:
                chunk = handle.read()
                if chunk:
                    sys.stdout.write(chunk.decode("utf-8", "replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
