"""Refuse malformed role variables on the controller, before a role changes anything.

A role's tasks/assert.yml calls it with a table: one entry per rule, with the variable's name (or
names, for one rule shared by several variables) and the rule; the values are read here from the
play's variables, so a secret never sits in the task's arguments. Argument specs already
check types and choices; the rules add what a type cannot say: ranges, parsed addresses and
networks, anchored patterns (\\A...\\Z, so a trailing newline never passes), absolute paths,
service users other than root, characters that would break or inject into the file a value is
rendered into, and placeholder secrets. Every broken rule is reported in one message, one
"name: must be FORM (got VALUE)" clause per variable; a secret's value is never shown.

Rule keys (all optional): list (the value must be a list), min, max, port, nonempty, unique,
min_len, max_len, regex (+ form),
forbid (characters), multiline, abspath, user, ip, cidr, host, url (list of schemes), secret,
not_in, valid_regex, number_or_percent, items (a rule for each list element), keys / values (rules for a dict's keys, values), fields
(a rule per known key of a dict; other keys are refused),
allow (values accepted as they are), hide (never show the value), spaces_ok (leading or trailing spaces allowed), empty_ok (the empty string is allowed and skips the other rules), any_address (default false:
0.0.0.0, ::, 0.0.0.0/0 and ::/0 in any spelling are refused).
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any
from urllib.parse import urlsplit

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_USER = re.compile(r"\A[a-z_][a-z0-9_-]{0,31}\Z")
_HOST = re.compile(r"\A(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
# Normalised (lowercase, letters and digits only) values and fragments of the kind example files
# and tutorials carry; a real secret never contains them.
_PLACEHOLDERS = ("changeme", "replaceme", "placeholder", "yourpassword", "yoursecret", "example",
                 "passwordthisfile", "secretgoeshere", "todo", "fixme", "redacted", "notset")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_PLACEHOLDER_EXACT = ("password", "secret", "admin", "root", "test", "default", "none", "null",
                      "token", "apikey", "key", "letmein", "qwerty")


def _show(value: Any, secret: bool) -> str:
    return "value hidden" if secret else f"got {value!r}"


def _is_any(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if addr.is_unspecified:
        return True
    mapped = getattr(addr, "ipv4_mapped", None)
    return bool(mapped is not None and mapped.is_unspecified)


_ALL_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def _is_any_network(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Every address: prefix 0, or all of IPv4 through its IPv4-mapped IPv6 form."""
    return net.prefixlen == 0 or (isinstance(net, ipaddress.IPv6Network) and net.supernet_of(_ALL_IPV4_MAPPED))


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip("[]") if value.startswith("[") else value)
    except ValueError:
        return None


def _placeholder(value: str) -> bool:
    norm = re.sub(r"[^a-z0-9]", "", value.lower())
    return (norm in _PLACEHOLDER_EXACT or any(p in norm for p in _PLACEHOLDERS)
            or len(set(value)) <= 2)


def check(name: str, value: Any, rule: dict[str, Any], secret: bool = False) -> list[str]:
    """Return one 'NAME: must be FORM (got VALUE)' line per broken rule (empty when valid)."""
    secret = secret or bool(rule.get("secret") or rule.get("hide"))
    errors: list[str] = []

    def bad(form: str) -> None:
        errors.append(f"{name}: must be {form} ({_show(value, secret)})")

    if rule.get("list") and not isinstance(value, list):  # "0,1" is not the list [0, 1]
        bad("a list")
        return errors
    if isinstance(value, bool) and any(k in rule for k in ("min", "max", "port")):
        bad("a number, not a boolean")
        return errors
    if isinstance(value, bool):  # argument specs check booleans
        return errors
    if isinstance(value, (int, float)) and "regex" in rule:  # a str option given as a number
        value = str(value)
    # `-e name=30` arrives as a string; the argument spec converts it for the role, so the range
    # must be checked on the number it spells, or any extra var would skip it.
    if (isinstance(value, str) and any(k in rule for k in ("min", "max", "port"))
            and "regex" not in rule and not rule.get("number_or_percent") and _NUMBER.fullmatch(value)):
        return check(name, float(value) if "." in value else int(value), rule, secret)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            bad("a finite number")
            return errors
        low, high = (1, 65535) if rule.get("port") else (rule.get("min"), rule.get("max"))
        if (low is not None and value < low) or (high is not None and value > high):
            lo = "" if low is None else str(low)
            bad(f"a number {lo}-{high}" if high is not None else f"a number >= {lo}")
        if "not_in" in rule and value in rule["not_in"]:
            bad(f"none of {rule['not_in']}")
        return errors
    if isinstance(value, list):
        if rule.get("nonempty") and not value:
            bad("a non-empty list")
        if rule.get("unique") and len({repr(v) for v in value}) != len(value):
            bad("a list without duplicates")
        if "max_items" in rule and len(value) > rule["max_items"]:
            bad(f"a list of at most {rule['max_items']} items")
        for index, item in enumerate(value):
            errors += check(f"{name}[{index}]", item, rule.get("items") or {}, secret)
        return errors
    if isinstance(value, dict):
        if rule.get("nonempty") and not value:
            bad("a non-empty mapping")
        fields = rule.get("fields")
        for key, item in value.items():
            errors += check(f"{name} key {key!r}", key, rule.get("keys") or {}, secret)
            if fields is not None and key not in fields:
                bad(f"a mapping with only the keys {', '.join(fields)} (unknown key {key!r})")
            elif fields is not None:
                errors += check(f"{name}.{key}", item, fields[key] or {}, secret)
            else:
                errors += check(f"{name}[{key!r}]", item, rule.get("values") or {}, secret)
        return errors
    if value is None:
        if not rule.get("none_ok"):
            bad("set")
        return errors
    if not isinstance(value, str):
        if rule.get("number_or_percent"):
            return check(name, str(value), rule, secret)
        bad("a string")
        return errors
    return errors + _check_str(name, value, rule, secret)


def _check_str(name: str, value: str, rule: dict[str, Any], secret: bool) -> list[str]:
    errors: list[str] = []

    def bad(form: str) -> None:
        errors.append(f"{name}: must be {form} ({_show(value, secret)})")

    if (value == "" and rule.get("empty_ok")) or value in rule.get("allow", ()):
        return errors
    if not rule.get("multiline") and _CONTROL.search(value):
        bad("one line without control characters (newline, tab, NUL)")
        return errors
    if value == "" and not rule.get("empty_ok"):
        bad("non-empty")
        return errors
    if value != value.strip() and not (rule.get("multiline") or rule.get("spaces_ok")):
        bad("free of leading or trailing spaces")
    if "min_len" in rule and len(value) < rule["min_len"]:
        bad(f"at least {rule['min_len']} characters")
    if "max_len" in rule and len(value) > rule["max_len"]:
        bad(f"at most {rule['max_len']} characters")
    forbid = rule.get("forbid", "")
    if forbid and any(c in value for c in forbid):
        shown = ", ".join(repr(c) for c in forbid)
        bad(f"free of the characters {shown}")
    if "regex" in rule and not re.fullmatch(rule["regex"], value):
        bad(rule.get("form") or f"a full match of {rule['regex']}")
    if "not_in" in rule and value in rule["not_in"]:
        bad(f"none of {rule['not_in']}")
    if rule.get("abspath"):
        parts = value.split("/")
        if not value.startswith("/") or value == "/" or re.search(r"\s", value) or (
                rule.get("abspath") == "strict" and ".." in parts):
            bad("an absolute path other than /, without spaces"
                + (" or '..'" if rule.get("abspath") == "strict" else ""))
    if rule.get("user"):
        if not _USER.fullmatch(value):
            bad("a system user name ([a-z_][a-z0-9_-]*, at most 32 characters)")
        elif value == "root" and not rule.get("root_ok"):
            bad("a dedicated user, not root")
    if rule.get("ip"):
        addr = _address(value)
        if addr is None:
            bad("an IPv4 or IPv6 address")
        elif _is_any(addr) and not rule.get("any_address"):
            bad("a specific address, not an any-address (0.0.0.0, ::) spelling")
    if rule.get("host"):
        addr = _address(value)
        if addr is None and not _HOST.fullmatch(value):
            bad("a host name or an IP address")
        elif addr is not None and _is_any(addr):
            bad("a specific address, not an any-address (0.0.0.0, ::) spelling")
    if rule.get("cidr"):
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            bad("a network in CIDR form with no host bits set, e.g. 10.20.0.0/24")
        else:
            if not re.fullmatch(r"[^/]+/[0-9]{1,3}", value):  # pg_hba and nginx read no netmask form
                bad("a network in CIDR form with a prefix length, e.g. 10.20.0.0/24")
            elif _is_any_network(net) and not rule.get("any_address"):
                bad("a bounded network, not 0.0.0.0/0, ::/0 or all of IPv4 as ::ffff:0:0/96")
    if rule.get("url"):
        parts_url = urlsplit(value)
        schemes = rule["url"] if isinstance(rule["url"], list) else ["https"]
        if parts_url.scheme not in schemes or not parts_url.hostname or re.search(r"[\s\"'<>\\]", value):
            bad(f"a {'/'.join(schemes)} URL with a host and no spaces or quotes")
    if rule.get("valid_regex"):
        try:
            re.compile(value)
        except re.error as exc:
            bad(f"a valid regular expression ({exc})")
    if rule.get("number_or_percent") and not re.fullmatch(r"[1-9][0-9]*|([1-9][0-9]?|100)%", value):
        bad("a positive count or a percentage 1%-100%")
    if secret and rule.get("secret") and _placeholder(value):
        bad("a real secret, not a placeholder (change-me, REPLACE_ME, the example file's values)")
    return errors


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        result["changed"] = False
        errors: list[str] = []
        for entry in self._task.args.get("checks") or []:
            rule = dict(entry)
            names = rule.pop("names", None) or [rule.pop("name")]
            given = rule.pop("value", None) if "value" in rule else None
            for name in map(str, names):
                # Read here, so a secret never sits in the task's arguments.
                try:
                    value = given if given is not None else self._templar.template((task_vars or {}).get(name))
                except AnsibleError as exc:  # e.g. a default derived from another bad variable
                    errors.append(f"{name}: could not be evaluated ({str(exc).splitlines()[0]})")
                    continue
                errors += check(name, value, rule)
        if errors:
            result.update(failed=True, msg="; ".join(errors))
        return result
