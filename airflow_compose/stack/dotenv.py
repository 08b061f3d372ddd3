"""`.env` read the way Docker Compose reads it, and values written so Compose reads them back unchanged.

Compose's rules (compose-go's `dotenv` parser and `template` interpolation, the code compose v2 runs):
- a UTF-8 byte-order mark is skipped; blank lines and lines starting with `#` are ignored;
- `export KEY=value` is `KEY=value`; `KEY: value` is accepted too; a key alone on a line takes its value
  from the environment; keys are letters, digits and `_ . - [ ]`;
- unquoted values end at the line's end or at ` #` (a space, then `#`), trailing blanks dropped;
- single-quoted values are literal (only `\\'` stands for a quote) and may span lines;
- double-quoted values may span lines and decode `\\n \\r \\t \\\\ \\" \\$` (and `\\a \\b \\f \\v`, octal `\\0NNN`);
- unquoted and double-quoted values are interpolated: `$$` is one `$`, `$NAME` and `${…}` are replaced by a
  variable (of the environment, or one set earlier in the file), a lone `$` before anything else stays.

afc never guesses: a value of its own that compose would interpolate is refused (see `settings`), so the
value afc reads is the value the containers get.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ProjectError

BOM = "\ufeff"
_SPACE = "\t\v\f\r \x85\xa0"  # compose's "space": blanks, but not the line break
_EXPORT = re.compile(r"export[\t\n\f\r ]+")
_NAMED = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
_ESCAPE = re.compile(r"\\(?:[abfnrtv$\"\\]|0[0-9]{0,3})")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Entry:
    """One variable of `.env`."""

    key: str
    value: str                # what compose reads (before any `$NAME` substitution, see `references`)
    source: str               # the value as written, quotes included
    line: int
    references: tuple[str, ...] = ()  # `$NAME` / `${…}` compose would replace with another variable's value
    inherited: bool = False   # a key alone on its line: compose takes the value from the environment


def parse(text: str, source: str = ".env") -> list[Entry]:
    """Every variable of a `.env` text, in order, as compose reads it; a line compose rejects (or would read
    as something else than it looks) raises ProjectError naming the line."""
    text = text.removeprefix(BOM)
    entries: list[Entry] = []
    pos, line = 0, 1
    while True:
        while pos < len(text) and text[pos].isspace():
            line += text[pos] == "\n"
            pos += 1
        if pos >= len(text):
            return entries
        if text[pos] == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        start_line = line
        export = _EXPORT.match(text, pos)
        if export:
            pos = export.end()
            line += text.count("\n", export.start(), export.end())
        key, pos, separator = _key(text, pos, start_line, source)
        if separator != "=" and separator != ":":  # a key alone on its line
            entries.append(Entry(key, "", "", start_line, inherited=True))
            line += separator == "\n"
            continue
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        entry, pos, line = _value(text, pos, key, start_line, source)
        entries.append(entry)


def _fail(source: str, line: int, what: str, hint: str) -> ProjectError:
    return ProjectError(f"{source} line {line}: {what}", hint=hint)


def _key(text: str, pos: int, line: int, source: str) -> tuple[str, int, str]:
    start = pos
    while pos < len(text) and text[pos] not in "=:\n":
        char = text[pos]
        if not (char.isalnum() or char in "_.-[]" or char in _SPACE):
            shown = text[start:text.find("\n", start) if "\n" in text[start:] else len(text)]
            raise _fail(source, line, f"{shown[:60]!r} is not KEY=value (unexpected {char!r} in the name)",
                        f"fix or delete line {line} of {source} (comments start with '#')")
        pos += 1
    key = text[start:pos].rstrip(_SPACE + "\n")
    if not key:
        raise _fail(source, line, "a line starts with '=' or ':' (no variable name)",
                    f"fix or delete line {line} of {source}")
    if any(char in _SPACE for char in key):
        raise _fail(source, line, f"{key[:60]!r} is not KEY=value (a name cannot contain a space)",
                    f"fix or delete line {line} of {source} (comments start with '#')")
    separator = text[pos] if pos < len(text) else ""
    return key, pos + 1, separator


def _value(text: str, pos: int, key: str, line: int, source: str) -> tuple[Entry, int, int]:
    quote = text[pos] if pos < len(text) and text[pos] in "'\"" else ""
    if not quote:
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        raw = text[pos:end]
        value = raw.split(" #", 1)[0].rstrip()
        decoded, references = interpolate(value)
        return Entry(key, decoded, value, line, references), end, line
    chars: list[str] = []
    escaped = False
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == quote and not escaped:
            break
        if char == "\\" and not escaped:
            escaped = True
        else:
            if escaped and char != quote:
                chars.append("\\")
            chars.append(char)
            escaped = False
        index += 1
    else:
        raise _fail(source, line, f"the value of {key} opens a {quote} quote that is never closed",
                    f"close the quote on line {line} of {source}")
    body = "".join(chars)
    written = text[pos:index + 1]
    end_line = line + written.count("\n")
    rest_end = text.find("\n", index + 1)
    rest = text[index + 1:len(text) if rest_end < 0 else rest_end]
    if rest.strip(_SPACE) and not rest.strip(_SPACE).startswith("#"):
        raise _fail(source, end_line, f"text after the closing quote of {key}: {rest.strip()[:40]!r} (compose would "
                                      f"read it as another variable)",
                    f"put the whole value of {key} inside the quotes, or start a comment with ' #'")
    if quote == "'":
        return Entry(key, body, written, line), index + 1, end_line
    decoded, references = interpolate(_ESCAPE.sub(_unescape, body))
    return Entry(key, decoded, written, line, references), index + 1, end_line


def _unescape(match: re.Match) -> str:
    code = match[0][1:]
    if code == "$":
        return "$$"  # compose's own spelling of a literal dollar, resolved by interpolate()
    if code.startswith("0"):  # `\0NNN`: exactly three octal digits up to 377, else kept as written
        digits = code[1:]
        if len(digits) == 3 and set(digits) <= set("01234567") and int(digits, 8) <= 0o377:
            return chr(int(digits, 8))
        return match[0]
    return _ESCAPES[code]


def interpolate(value: str) -> tuple[str, tuple[str, ...]]:
    """Resolve compose's `$$` escape; return the references (`$NAME`, `${…}`) compose would substitute."""
    out: list[str] = []
    references: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char != "$":
            out.append(char)
            index += 1
            continue
        following = value[index + 1:index + 2]
        if following == "$":
            out.append("$")
            index += 2
            continue
        named = _NAMED.match(value, index + 1)
        if following == "{":
            close = value.find("}", index)
            end = len(value) if close < 0 else close + 1
            references.append(value[index:end])
            out.append(value[index:end])
            index = end
        elif named:
            references.append(value[index:named.end()])
            out.append(value[index:named.end()])
            index = named.end()
        else:
            out.append("$")
            index += 1
    return "".join(out), tuple(references)


_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=^~!*?&()\[\]{}<>|;-]*")


def quote(value: str) -> str:
    """`value` written so that compose reads exactly `value` back: plain when that is safe, else quoted."""
    if _PLAIN.fullmatch(value) and not value.startswith(("'", '"')):
        return value
    if "'" not in value and not value.endswith("\\"):
        return f"'{value}'"
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
               .replace("\n", "\\n").replace("\r", "\\r"))
    return f'"{escaped}"'
