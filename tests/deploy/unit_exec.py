#!/usr/bin/env python3
"""unit_exec.py [--no-users] ROOT UNIT_FILE [DROP_IN...]

Reads a systemd service unit (plus drop-ins, applied in order) the way systemd does for the
settings the deployment tests act on, resolving paths and users inside ROOT (a scratch root
that `cmake --install` / systemd-sysusers / systemd-tmpfiles filled), and prints bash
assignments for `eval`:

  U_ENV=(K=V ...)        Environment= then EnvironmentFile= (which overrides), as systemd
  U_EXEC=(argv ...)      ExecStart= with $VAR / ${VAR} expanded from U_ENV (binary mapped into ROOT)
  U_UID, U_GID           User=/Group= resolved in ROOT/etc/passwd and ROOT/etc/group ('' if unset;
                         no Group=: the user's primary group)
  U_GROUPS               SupplementaryGroups= resolved to gids, comma-separated
  U_UMASK                UMask= ('' if unset)
  U_SYSCALL_FILTER=(...) SystemCallFilter= lines, in order
  U_FAMILIES             RestrictAddressFamilies=
  U_WANTS, U_AFTER       Wants=, After=
Unknown users or a missing non-optional EnvironmentFile are errors (exit 1); --no-users leaves
users and groups unresolved (empty).
"""
import os
import re
import shlex
import sys


def parse_unit(paths):
    """[(section, key, value)] of every assignment, files in order (continuation lines joined)."""
    out = []
    for path in paths:
        section = None
        pending = ""
        with open(path, encoding="utf-8") as f:
            for raw in f:
                line = raw.rstrip("\n")
                if pending:
                    line = pending + line.lstrip()
                    pending = ""
                if line.endswith("\\"):
                    pending = line[:-1] + " "
                    continue
                s = line.strip()
                if not s or s[0] in "#;":
                    continue
                if s.startswith("[") and s.endswith("]"):
                    section = s[1:-1]
                    continue
                key, _, value = s.partition("=")
                out.append((section, key.strip(), value.strip()))
    return out


def in_root(root, path):
    return os.path.join(root, path.lstrip("/"))


def env_file(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            s = raw.strip()
            if not s or s[0] in "#;":
                continue
            key, _, value = s.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def lookup(root, db, name):
    if re.fullmatch(r"\d+", name):
        return name
    with open(in_root(root, "/etc/" + db), encoding="utf-8") as f:
        for row in f:
            cols = row.rstrip("\n").split(":")
            if cols[0] == name:
                return cols[2]
    sys.exit(f"unit_exec: no {db} entry '{name}' in {root}/etc/{db}")


def primary_gid(root, user):
    with open(in_root(root, "/etc/passwd"), encoding="utf-8") as f:
        for row in f:
            cols = row.rstrip("\n").split(":")
            if cols[0] == user or cols[2] == user:
                return cols[3]
    sys.exit(f"unit_exec: no passwd entry '{user}' in {root}/etc/passwd")


def expand(cmd, env):
    """systemd's ExecStart= word expansion: $VAR splits on whitespace, ${VAR} is one word."""
    argv = []
    for word in shlex.split(cmd):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            argv.extend(env.get(m.group(1), "").split())
            continue
        argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda g: env.get(g.group(1), ""), word))
    return argv


def main():
    args = sys.argv[1:]
    resolve = not (args and args[0] == "--no-users")
    if not resolve:
        args = args[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    root = args[0]
    settings = parse_unit(args[1:])
    env, files, execs, filters = {}, [], [], []
    single = {}
    lists = {"Wants": [], "After": [], "SupplementaryGroups": []}
    for section, key, value in settings:
        if section == "Service" and key == "Environment":
            for item in shlex.split(value):
                k, _, v = item.partition("=")
                env[k] = v
        elif section == "Service" and key == "EnvironmentFile":
            files.append(value)
        elif section == "Service" and key == "ExecStart":
            execs = [value] if value else []
        elif section == "Service" and key == "SystemCallFilter":
            filters.append(value)
        elif key in lists:
            lists[key].extend(value.split())
        else:
            single[key] = value
    for spec in files:  # applied after Environment=, in order
        optional = spec.startswith("-")
        path = in_root(root, spec.lstrip("-"))
        if os.path.exists(path):
            env.update(env_file(path))
        elif not optional:
            sys.exit(f"unit_exec: EnvironmentFile {spec} missing in {root}")
    argv = expand(execs[0], env) if execs else []
    if argv and argv[0].startswith("/"):
        argv[0] = in_root(root, argv[0])
    uid = lookup(root, "passwd", single["User"]) if resolve and "User" in single else ""
    gid = lookup(root, "group", single["Group"]) if resolve and "Group" in single else ""
    if resolve and uid and not gid:  # no Group=: the user's primary group, as systemd does
        gid = primary_gid(root, single["User"])
    groups = ",".join(lookup(root, "group", g) for g in lists["SupplementaryGroups"]) if resolve else ""

    def arr(name, items):
        print(f"{name}=(" + " ".join(shlex.quote(i) for i in items) + ")")

    arr("U_ENV", [f"{k}={v}" for k, v in env.items()])
    arr("U_EXEC", argv)
    arr("U_SYSCALL_FILTER", filters)
    for name, value in (("U_UID", uid), ("U_GID", gid), ("U_GROUPS", groups),
                        ("U_UMASK", single.get("UMask", "")),
                        ("U_FAMILIES", single.get("RestrictAddressFamilies", "")),
                        ("U_WANTS", " ".join(lists["Wants"])), ("U_AFTER", " ".join(lists["After"]))):
        print(f"{name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
