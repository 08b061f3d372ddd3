import os


class _Found:
    def __init__(self, present):
        self.present = present

    def first(self):
        return (1,) if self.present else None


class _Connection:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, statement, parameters):
        with open(os.environ["FAKE_CALLS"], "a") as calls:
            calls.write("select-user " + parameters["name"] + "\n")
        return _Found(os.environ.get("FAKE_USER_PRESENT") == "1"
                      or os.path.exists(os.environ["FAKE_CALLS"] + ".user"))


class _Engine:
    def connect(self):
        return _Connection()


engine = _Engine()
