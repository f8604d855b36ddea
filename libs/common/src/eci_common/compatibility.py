"""Compatibility gate: the event contracts may grow, never break what consumers rely on.

The baseline is the set of JSON Schemas committed under `contracts/` at a git ref (by default
`origin/main` when that ref exists, else `HEAD`); the candidate is what the models generate now
(`eci_common.schemas`). `python -m eci_common.compatibility [--against REF] [--history]` lists
every breaking change and exits 1 if there is one; with `--history` (what `make compat` runs) the
baseline is every commit reachable from REF that changed the contracts, so that a breaking change
already committed at REF is caught as well. `breaking_changes(old, new)` compares two schemas of
one event type and is what the tests call directly.

The rule, from the consumers' side. Our topics keep their history (`retention.ms=-1`), so a
consumer may read records written under the old schema *and* under the new one with either
version of its code. A change is therefore breaking when:

- a record valid under the old schema may be invalid under the new one (a new required
  property, a type, enum or const narrowed, a bound tightened, a pattern or format added or
  changed, null no longer allowed): replaying the history with the new contract fails;
- or a consumer written against the old schema may receive something it was promised it would
  not (a property removed, a property no longer required, a type widened, null now allowed,
  the topic changed).

Two widenings pass on purpose, because the integrator guide tells consumers to tolerate them:
new optional properties (payloads allow additional properties) and new enum values. Annotations
(`title`, `description`, `default`, `examples`, `x-*`) never matter. A keyword the gate does not
model is compared for equality, so anything it cannot reason about fails closed.

A committed event type may disappear only when `contracts/deprecations.toml` lists it with a
sunset date at least `MIGRATION_WINDOW` after its announcement, and that date has passed
(see docs/versioning.md).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Final

from eci_common.schemas import CONTRACTS_DIR, ENVELOPE_FILE, EVENTS_FOLDER, contract_files

DEPRECATIONS_FILE: Final = CONTRACTS_DIR / "deprecations.toml"
MIGRATION_WINDOW: Final = timedelta(days=90)
DEFAULT_REFS: Final = ("origin/main", "HEAD")

# Keywords that describe without constraining: changing them never breaks a consumer.
_ANNOTATIONS: Final = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
# Lower bounds: raising (or adding) one rejects records that used to pass.
_LOWER_BOUNDS: Final = (
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
    "minContains",
)
# Upper bounds: lowering (or adding) one rejects records that used to pass.
_UPPER_BOUNDS: Final = (
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
    "maxContains",
)
# String constraints that cannot be compared for inclusion: adding or changing one is breaking.
_OPAQUE_CONSTRAINTS: Final = ("pattern", "format", "contentEncoding", "contentMediaType")
_UNION_KEYWORDS: Final = ("anyOf", "oneOf")
# Everything `_compare_branch` looks at; other constraining keywords fall back to equality.
_HANDLED: Final = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "multipleOf",
        "uniqueItems",
        *_LOWER_BOUNDS,
        *_UPPER_BOUNDS,
        *_OPAQUE_CONSTRAINTS,
        *_UNION_KEYWORDS,
    }
)
_ANY: Final = "any"  # the kind of a schema that does not constrain the JSON type


@dataclass(frozen=True, slots=True)
class Deprecation:
    """An event type on its way out: producers stop emitting it, then it may disappear."""

    event_type: str
    announced: date
    sunset: date
    replaced_by: str | None = None


# Python types of parsed JSON to their JSON Schema type; `bool` before `int`, its base class.
_JSON_TYPES: Final[tuple[tuple[type, str], ...]] = (
    (type(None), "null"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
)


def _json_type_of(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "object")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass
class _Comparison:
    """One comparison of two schema documents: their roots (for `$ref`) and what broke."""

    old_root: Mapping[str, Any]
    new_root: Mapping[str, Any]
    problems: list[str] = field(default_factory=list)
    # Pairs of references being compared: recursive models (a `$ref` back to an ancestor) must
    # not send the walk round in circles.
    active: set[tuple[str, str]] = field(default_factory=set)

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")


def _resolve(schema: Any, root: Mapping[str, Any]) -> tuple[Any, str]:
    """The schema with local `$ref`s and one-element `allOf`s replaced by their target.

    Sibling keywords of a `$ref` (pydantic puts a field's `description` there) are kept on top
    of the target. Also returns the chain of references followed, to detect recursion.
    """
    chain: list[str] = []
    while isinstance(schema, dict):
        if "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                # Remote references would make the contract depend on another document: not
                # something we publish, so compare them as opaque values.
                return schema, "".join(chain)
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            chain.append(ref)
            schema = {**target, **siblings} if isinstance(target, dict) else target
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            siblings = {key: value for key, value in schema.items() if key != "allOf"}
            schema = {**schema["allOf"][0], **siblings}
        else:
            break
    return schema, "".join(chain)


def _branches(schema: Any, root: Mapping[str, Any]) -> list[Any]:
    """The alternatives a value may take: `anyOf`/`oneOf` members, or one per listed type."""
    if not isinstance(schema, dict):
        return [schema]
    for keyword in _UNION_KEYWORDS:
        if isinstance(schema.get(keyword), list):
            rest = {key: value for key, value in schema.items() if key != keyword}
            found: list[Any] = []
            for member in schema[keyword]:
                resolved, _ = _resolve(member, root)
                # The union's own constraints apply to every member; annotations do not matter.
                merged = {**rest, **resolved} if isinstance(resolved, dict) else resolved
                found.extend(_branches(merged, root))
            return found
    if isinstance(schema.get("type"), list):
        rest = {key: value for key, value in schema.items() if key != "type"}
        return [{**rest, "type": kind} for kind in schema["type"]]
    return [schema]


def _kind(branch: Any) -> str:
    """The JSON type a branch stands for, `any` when it does not say."""
    if isinstance(branch, bool):
        return _ANY if branch else "never"
    kinds: set[str] = set()
    if isinstance(branch.get("type"), str):
        kinds = {branch["type"]}
    elif "const" in branch:
        kinds = {_json_type_of(branch["const"])}
    elif isinstance(branch.get("enum"), list) and branch["enum"]:
        kinds = {_json_type_of(value) for value in branch["enum"]}
    elif "properties" in branch:
        kinds = {"object"}
    elif "items" in branch:
        kinds = {"array"}
    return kinds.pop() if len(kinds) == 1 else _ANY


def _describe_kinds(kinds: Iterable[str]) -> str:
    return " | ".join(sorted(kinds)) or "nothing"


def _compare(old: Any, new: Any, path: str, run: _Comparison) -> None:
    old, old_chain = _resolve(old, run.old_root)
    new, new_chain = _resolve(new, run.new_root)
    if old_chain or new_chain:
        if (old_chain, new_chain) in run.active:
            return
        run.active.add((old_chain, new_chain))
    old_by_kind: dict[str, list[Any]] = {}
    for branch in _branches(old, run.old_root):
        old_by_kind.setdefault(_kind(branch), []).append(branch)
    new_by_kind: dict[str, list[Any]] = {}
    for branch in _branches(new, run.new_root):
        new_by_kind.setdefault(_kind(branch), []).append(branch)
    _compare_kinds(set(old_by_kind), set(new_by_kind), path, run)
    for kind in sorted(set(old_by_kind) & set(new_by_kind)):
        olds, news = old_by_kind[kind], new_by_kind[kind]
        if len(olds) == 1 and len(news) == 1:
            _compare_branch(olds[0], news[0], path, run)
        elif sorted(map(_canonical, olds)) != sorted(map(_canonical, news)):
            # Several alternatives of one type (say two object shapes): pairing them up is
            # guesswork, so any change among them fails closed.
            run.report(path, f"the {kind} alternatives changed (the gate cannot pair them up)")


def _compare_kinds(old: set[str], new: set[str], path: str, run: _Comparison) -> None:
    if old == new or (_ANY in new and _ANY in old):
        return
    removed, added = old - new, new - old
    if removed == {"null"} and not added:
        run.report(path, "made non-nullable: null is no longer allowed")
    elif added == {"null"} and not removed:
        run.report(path, "made nullable: consumers may now receive null")
    elif removed and added:
        run.report(path, f"type changed from {_describe_kinds(old)} to {_describe_kinds(new)}")
    elif removed:
        run.report(path, f"type narrowed from {_describe_kinds(old)} to {_describe_kinds(new)}")
    else:
        run.report(
            path,
            f"type widened from {_describe_kinds(old)} to {_describe_kinds(new)}: consumers "
            "may receive values they do not expect",
        )


def _allowed_values(branch: Mapping[str, Any]) -> list[Any] | None:
    if "const" in branch:
        return [branch["const"]]
    if isinstance(branch.get("enum"), list):
        return list(branch["enum"])
    return None


def _compare_values(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, run: _Comparison
) -> None:
    before, after = _allowed_values(old), _allowed_values(new)
    if after is None:
        return  # no restriction any more, or never one: a widening, tolerated like new values
    if before is None:
        run.report(path, f"now restricted to {after!r}")
        return
    if "const" in old and "const" in new and old["const"] != new["const"]:
        run.report(path, f"const changed from {old['const']!r} to {new['const']!r}")
        return
    kept = {_canonical(value) for value in after}
    removed = [value for value in before if _canonical(value) not in kept]
    if removed:
        run.report(path, f"enum narrowed: {removed!r} no longer allowed")


def _compare_bounds(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, run: _Comparison
) -> None:
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            before = old.get(keyword, "none")
            run.report(path, f"{keyword} tightened from {before} to {new[keyword]}")
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            before = old.get(keyword, "none")
            run.report(path, f"{keyword} tightened from {before} to {new[keyword]}")
    if "multipleOf" in new and (
        "multipleOf" not in old or old["multipleOf"] % new["multipleOf"] != 0
    ):
        run.report(
            path, f"multipleOf changed from {old.get('multipleOf', 'none')} to {new['multipleOf']}"
        )
    for keyword in _OPAQUE_CONSTRAINTS:
        if keyword in new and old.get(keyword) != new[keyword]:
            if keyword in old:
                run.report(path, f"{keyword} changed from {old[keyword]!r} to {new[keyword]!r}")
            else:
                run.report(path, f"{keyword} {new[keyword]!r} added")
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        run.report(path, "items must now be unique")


def _allows_additional(schema: Mapping[str, Any]) -> Any:
    # Absent means allowed, as `true` does.
    return schema.get("additionalProperties", True)


def _compare_object(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, run: _Comparison
) -> None:
    old_props: Mapping[str, Any] = old.get("properties", {})
    new_props: Mapping[str, Any] = new.get("properties", {})
    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name in old_props:
        if name not in new_props:
            run.report(f"{path}.{name}", "property removed: consumers that read it lose it")
        else:
            _compare(old_props[name], new_props[name], f"{path}.{name}", run)
    for name in sorted(new_required - old_required):
        if name in old_props:
            run.report(f"{path}.{name}", "now required: records already written may lack it")
        else:
            run.report(
                f"{path}.{name}",
                "new required property: records already written lack it (add it as optional)",
            )
    for name in sorted(old_required - new_required):
        if name in new_props:
            run.report(
                f"{path}.{name}", "no longer required: consumers may receive records without it"
            )
    before, after = _allows_additional(old), _allows_additional(new)
    if after is False and before is not False:
        run.report(path, "additional properties are now forbidden")
    elif isinstance(after, dict) and before is True:
        run.report(path, "additional properties are now constrained")
    elif isinstance(after, dict) and isinstance(before, dict):
        _compare(before, after, f"{path}.*", run)


def _compare_branch(old: Any, new: Any, path: str, run: _Comparison) -> None:
    """Two alternatives of the same JSON type, keyword by keyword."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        if old != new:
            run.report(path, f"schema changed from {old!r} to {new!r}")
        return
    _compare_values(old, new, path, run)
    _compare_bounds(old, new, path, run)
    if "properties" in old or "properties" in new or "additionalProperties" in new:
        _compare_object(old, new, path, run)
    if "items" in old or "items" in new:
        if "items" not in new:
            pass  # any item is allowed now: a widening of the item type
        elif "items" not in old:
            run.report(f"{path}[]", "items now constrained")
        else:
            _compare(old["items"], new["items"], f"{path}[]", run)
    for keyword in sorted((set(old) | set(new)) - _HANDLED - _ANNOTATIONS):
        if keyword.startswith("x-"):
            continue  # extensions are annotations for tools, not constraints
        if _canonical(old.get(keyword)) != _canonical(new.get(keyword)):
            run.report(path, f"{keyword} changed (the gate cannot tell whether compatibly)")


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Every change from `old` to `new` (two schemas of one event type) that breaks a consumer.

    Each message starts with the path of the value concerned (`$` is the payload, `$.roles[]`
    the items of `roles`) and says what changed. An empty list means compatible.
    """
    run = _Comparison(old_root=old, new_root=new)
    for extension, what in (("x-topic", "topic"), ("x-event-type", "event type")):
        if extension in old and old.get(extension) != new.get(extension):
            run.report("$", f"{what} changed from {old[extension]!r} to {new.get(extension)!r}")
    _compare(old, new, "$", run)
    return run.problems


def load_deprecations(path: Path = DEPRECATIONS_FILE) -> dict[str, Deprecation]:
    """The deprecation file, by event type; `ValueError` naming the entry that is wrong."""
    if not path.is_file():
        return {}
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    found: dict[str, Deprecation] = {}
    for index, entry in enumerate(document.get("deprecated", [])):
        where = f"{path.name}, deprecated entry {index + 1}"
        try:
            deprecation = Deprecation(
                event_type=str(entry["type"]),
                announced=entry["announced"],
                sunset=entry["sunset"],
                replaced_by=entry.get("replaced_by"),
            )
        except KeyError as exc:
            raise ValueError(f"{where}: missing {exc.args[0]!r}") from None
        undated = [key for key in ("announced", "sunset") if not isinstance(entry[key], date)]
        if undated:
            raise ValueError(f"{where}: {' and '.join(undated)} must be a TOML date (2027-01-31)")
        if deprecation.sunset - deprecation.announced < MIGRATION_WINDOW:
            raise ValueError(
                f"{where}: sunset {deprecation.sunset} is less than "
                f"{MIGRATION_WINDOW.days} days after {deprecation.announced}"
            )
        found[deprecation.event_type] = deprecation
    return found


def compare_contracts(
    baseline: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    *,
    deprecations: Mapping[str, Deprecation],
    today: date,
) -> list[str]:
    """Breaking changes between two sets of contracts, keyed by path (`events/<type>.json`).

    A contract present in both is compared with `breaking_changes`; a new one is additive; a
    missing one is breaking unless it is an event type deprecated with a sunset date that has
    passed. Every message starts with the contract's name.
    """
    problems: list[str] = []
    for name in sorted(baseline):
        label = PurePosixPath(name).stem if name.startswith(f"{EVENTS_FOLDER}/") else name
        if name in current:
            problems += [
                f"{label}: {problem}" for problem in breaking_changes(baseline[name], current[name])
            ]
            continue
        deprecation = deprecations.get(label)
        if deprecation is None:
            problems.append(
                f"{label}: removed; a published event type may only go after a migration "
                "window, listed in contracts/deprecations.toml with its sunset date"
            )
        elif today < deprecation.sunset:
            problems.append(
                f"{label}: removed before its sunset date {deprecation.sunset.isoformat()}"
            )
    for deprecation in deprecations.values():
        if deprecation.replaced_by and f"{EVENTS_FOLDER}/{deprecation.replaced_by}.json" not in (
            current
        ):
            problems.append(
                f"{deprecation.event_type}: deprecated in favour of "
                f"{deprecation.replaced_by}, which no contract describes"
            )
    return problems


def current_contracts() -> dict[str, dict[str, Any]]:
    """The contracts the models generate now, parsed, by path relative to the contracts folder."""
    return {name: json.loads(text) for name, text in contract_files().items()}


class GitError(RuntimeError):
    """git is missing, the contracts are not in a work tree, or the ref does not exist."""


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("git")
    if executable is None:
        raise GitError("git is not installed")
    # Fixed arguments, no shell: the ref comes from our own command line.
    return subprocess.run(  # noqa: S603
        [executable, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _names_commit(ref: str, cwd: Path) -> bool:
    return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd).returncode == 0


def default_ref(directory: Path = CONTRACTS_DIR) -> str:
    """`origin/main` when the clone knows it (a branch is compared with what is published),
    else `HEAD` (the last commit, before committing)."""
    for ref in DEFAULT_REFS:
        if _names_commit(ref, directory):
            return ref
    raise GitError(f"none of {', '.join(DEFAULT_REFS)} names a commit")


def baseline_contracts(ref: str, directory: Path = CONTRACTS_DIR) -> dict[str, dict[str, Any]]:
    """The contracts committed at `ref`, read with `git show`, keyed like `current_contracts`."""
    top = _git("rev-parse", "--show-toplevel", cwd=directory)
    if top.returncode != 0:
        raise GitError(f"{directory} is not inside a git work tree: {top.stderr.strip()}")
    root = Path(top.stdout.strip())
    prefix = directory.resolve().relative_to(root.resolve()).as_posix()
    if not _names_commit(ref, root):
        raise GitError(f"{ref!r} does not name a commit")
    listing = _git("ls-tree", "-r", "--name-only", ref, "--", prefix, cwd=root)
    if listing.returncode != 0:
        raise GitError(f"git ls-tree {ref}: {listing.stderr.strip()}")
    found: dict[str, dict[str, Any]] = {}
    for path in listing.stdout.splitlines():
        name = PurePosixPath(path).relative_to(prefix).as_posix()
        if not (name.startswith(f"{EVENTS_FOLDER}/") or name == ENVELOPE_FILE):
            continue
        if not name.endswith(".json"):
            continue
        shown = _git("show", f"{ref}:{path}", cwd=root)
        if shown.returncode != 0:
            raise GitError(f"git show {ref}:{path}: {shown.stderr.strip()}")
        found[name] = json.loads(shown.stdout)
    return found


def check_against(
    ref: str, *, directory: Path = CONTRACTS_DIR, today: date | None = None
) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The breaking changes of the models against `ref`, with the two sets compared."""
    baseline = baseline_contracts(ref, directory)
    current = current_contracts()
    problems = compare_contracts(
        baseline,
        current,
        deprecations=load_deprecations(directory / DEPRECATIONS_FILE.name),
        today=today or datetime.now(UTC).date(),
    )
    return problems, baseline, current


def contract_history(ref: str, directory: Path = CONTRACTS_DIR) -> list[str]:
    """Every commit reachable from `ref` that changed the contracts, newest first.

    Comparing with `ref` alone misses a breaking change already committed at `ref` (CI checks
    out the very commit that made it); every contract ever committed is a contract someone may
    rely on, so `--history` compares the models with each of these commits.
    """
    top = _git("rev-parse", "--show-toplevel", cwd=directory)
    if top.returncode != 0:
        raise GitError(f"{directory} is not inside a git work tree: {top.stderr.strip()}")
    root = Path(top.stdout.strip())
    prefix = directory.resolve().relative_to(root.resolve()).as_posix()
    if not _names_commit(ref, root):
        raise GitError(f"{ref!r} does not name a commit")
    log = _git("log", "--format=%H", ref, "--", prefix, cwd=root)
    if log.returncode != 0:
        raise GitError(f"git log {ref}: {log.stderr.strip()}")
    return log.stdout.split()


def check_history(
    ref: str, *, directory: Path = CONTRACTS_DIR, today: date | None = None
) -> tuple[list[str], int]:
    """The breaking changes against every commit of `contract_history`; and how many there were.

    A problem found against several commits is reported once, naming the newest of them.
    """
    commits = contract_history(ref, directory)
    problems: dict[str, str] = {}
    for commit in commits:
        found, _, _ = check_against(commit, directory=directory, today=today)
        for problem in found:
            problems.setdefault(problem, commit[:12])
    return [f"{problem} (against {commit})" for problem, commit in problems.items()], len(commits)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: exit 1 listing the breaking changes, 2 if git cannot give a baseline."""
    parser = argparse.ArgumentParser(
        prog="python -m eci_common.compatibility",
        description="Fail if the event contracts the models generate break the committed ones.",
    )
    parser.add_argument(
        "--against",
        metavar="REF",
        help=f"git ref of the baseline (default: the first of {', '.join(DEFAULT_REFS)} "
        "that exists)",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="compare with every commit reachable from REF that changed the contracts, not "
        "only with REF",
    )
    args = parser.parse_args(argv)
    try:
        ref: str = args.against or default_ref()
        problems, baseline, current = check_against(ref)
        if args.history:
            problems, commits = check_history(ref)
    except (GitError, ValueError) as exc:
        sys.stderr.write(f"compatibility gate: {exc}\n")
        raise SystemExit(2) from None
    if problems:
        sys.stderr.write("\n".join(f"BREAKING {problem}" for problem in problems) + "\n")
        sys.stderr.write(
            f"{len(problems)} breaking change(s) against {ref}: publish a new version of the "
            "event type (….v2) next to the old one instead; see docs/versioning.md\n"
        )
        raise SystemExit(1)
    added = len(set(current) - set(baseline))
    sys.stdout.write(
        f"contracts compatible with {ref}: {len(set(current) & set(baseline))} compared, "
        f"{added} new\n"
    )
    if args.history:
        sys.stdout.write(f"and with each of the {commits} commit(s) that changed them\n")


if __name__ == "__main__":
    main()
