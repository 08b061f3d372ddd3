import argparse
import os


def _record(*words):
    with open(os.environ["FAKE_CALLS"], "a") as calls:
        calls.write(" ".join(words) + "\n")


def _state(name, default=""):
    return os.environ.get("FAKE_" + name, default)


def _check_migrations(args):
    _record("check-migrations")
    migrated = os.path.exists(os.environ["FAKE_CALLS"] + ".migrated")
    if _state("DB_ERROR"):
        raise RuntimeError(_state("DB_ERROR") + "\n(Background on this error at: https://sqlalche.me/e/14/e3q8)")
    if _state("AT_HEAD") != "1" and not (migrated and _state("MIGRATE_LEAVES_OLD") != "1"):
        raise TimeoutError("There are still unapplied migrations after 1 seconds.")


def _migrate(args):
    _record("migrate")
    if _state("MIGRATE_ERROR"):
        raise RuntimeError(_state("MIGRATE_ERROR"))
    open(os.environ["FAKE_CALLS"] + ".migrated", "w").close()


def _users_create(args):
    _record("users-create", args.username, args.password)
    if _state("CREATE_EXIT"):
        raise SystemExit(_state("CREATE_EXIT"))
    if _state("CREATE_NOOP") != "1":
        open(os.environ["FAKE_CALLS"] + ".user", "w").close()


def get_parser():
    parser = argparse.ArgumentParser(prog="airflow")
    groups = parser.add_subparsers()
    db = groups.add_parser("db").add_subparsers()
    check = db.add_parser("check-migrations")
    check.add_argument("--migration-wait-timeout")
    check.set_defaults(func=_check_migrations)
    db.add_parser("migrate").set_defaults(func=_migrate)
    create = groups.add_parser("users").add_subparsers().add_parser("create")
    for option in ("username", "password", "role", "firstname", "lastname", "email"):
        create.add_argument("--" + option)
    create.set_defaults(func=_users_create)
    return parser
