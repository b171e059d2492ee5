"""What the local Hub (`bodhi_devstack.hub`) shares between the test thread and the server thread:
repos and their files, per-file faults with their remaining budgets, and the request log."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from bodhi_devstack.hub_files import Content, HubFile


class RequestRecord(msgspec.Struct, frozen=True):
    """One GET/HEAD of a file (resolve or CDN URL), in order of arrival."""

    method: str
    path: str
    range: str | None
    status: int
    """0 while headers are not sent yet, and for a connection reset before any response."""
    bytes_sent: int
    """Body bytes handed to the connection (so far, for a request still in flight)."""
    authorized: bool
    """An Authorization header was present."""
    cdn: bool = False
    """Served by the CDN listener (after a redirect)."""


class Fault(msgspec.Struct, kw_only=True):
    """Fault modes of one file; see LocalHub.fault."""

    truncate_at: int | None = None
    flip_byte: int | None = None
    stall_at: int | None = None
    stall_seconds: float = 0.0
    throttle: float | None = None
    status: int | None = None
    retry_after: float | None = None
    redirect: bool = False
    reset_before_headers: bool = False
    times: int = 1
    head: bool = False
    """`status` and `reset_before_headers` also hit HEAD requests (by default only GETs)."""

    def check(self) -> None:
        if self.stall_at is not None and self.stall_seconds <= 0:
            raise ValueError("stall_at needs stall_seconds > 0")
        if self.throttle is not None and self.throttle <= 0:
            raise ValueError("throttle must be > 0 bytes per second")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        if self.times < 1:
            raise ValueError("times must be >= 1")


@dataclass
class _Budget:
    """A fault and how many more times each one-shot mode may fire."""

    fault: Fault
    truncations: int
    stalls: int
    statuses: int
    resets: int


class BeforeHeaders(NamedTuple):
    fault: Fault | None
    reset: bool
    status: int | None


@dataclass
class Entry:
    file: HubFile
    content: Content


@dataclass
class Branch:
    commit: str
    files: dict[str, Entry] = field(default_factory=dict)


class Missing(NamedTuple):
    """Why a lookup failed: the Hub's X-Error-Code, a message, the commit when known."""

    code: str
    message: str
    commit: str | None = None


@dataclass
class Live:
    """A request in the log; `status` and `bytes_sent` change while it is served."""

    key: tuple[str, str]
    method: str
    path: str
    range: str | None
    authorized: bool
    cdn: bool
    status: int = 0
    bytes_sent: int = 0

    def record(self) -> RequestRecord:
        return RequestRecord(
            self.method,
            self.path,
            self.range,
            self.status,
            self.bytes_sent,
            self.authorized,
            self.cdn,
        )


@dataclass
class HubState:
    """Repos, faults and the request log, guarded by `lock`."""

    tokens: frozenset[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: repo -> branch name -> branch
    repos: dict[str, dict[str, Branch]] = field(default_factory=dict)
    faults: dict[tuple[str, str], _Budget] = field(default_factory=dict)
    live: list[Live] = field(default_factory=list)
    cdn_port: int = 0
    cdn_url: str = ""

    # --- files ---------------------------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        hub_file = entry.file
        with self.lock:
            branches = self.repos.setdefault(hub_file.repo, {})
            branch = branches.setdefault(hub_file.revision, Branch(hub_file.commit))
            branch.files[hub_file.filename] = entry

    def has_file(self, repo: str, filename: str) -> bool:
        with self.lock:
            return any(filename in b.files for b in self.repos.get(repo, {}).values())

    def entry(self, repo: str, filename: str, revision: str) -> Entry:
        with self.lock:
            return self.repos[repo][revision].files[filename]

    def split_repo(self, segments: list[str]) -> tuple[str, list[str]]:
        """A repo id (`owner/name`, or a known one-part id) off the front of a path."""
        with self.lock:
            two_parts = len(segments) >= 2 and "/".join(segments[:2]) in self.repos
            if not two_parts and segments and segments[0] in self.repos:
                return segments[0], segments[1:]
        return "/".join(segments[:2]), segments[2:]

    def branch(self, repo: str, revision: str) -> Branch | Missing:
        """A repo's files at a branch name or a commit id (a snapshot of them)."""
        with self.lock:
            branches = self.repos.get(repo)
            if branches is None:
                return Missing("RepoNotFound", f"Repository {repo} not found")
            found = branches.get(revision)
            if found is None:
                found = next((b for b in branches.values() if b.commit == revision), None)
            if found is None:
                return Missing("RevisionNotFound", f"Invalid rev id: {revision}")
            return Branch(found.commit, dict(found.files))

    def find(self, repo: str, revision: str, filename: str) -> Entry | Missing:
        branch = self.branch(repo, revision)
        if isinstance(branch, Missing):
            return branch
        entry = branch.files.get(filename)
        if entry is None:
            message = f"{filename} does not exist on {revision}"
            return Missing("EntryNotFound", message, branch.commit)
        return entry

    # --- faults --------------------------------------------------------------------------------

    def set_fault(self, repo: str, filename: str, fault: Fault | None) -> None:
        with self.lock:
            if fault is None:
                self.faults.pop((repo, filename), None)
            else:
                t = fault.times
                self.faults[(repo, filename)] = _Budget(fault, t, t, t, t)

    def before_headers(self, key: tuple[str, str], method: str) -> BeforeHeaders:
        """The file's fault, spending a reset or an error status on this request if due."""
        with self.lock:
            held = self.faults.get(key)
            if held is None:
                return BeforeHeaders(None, False, None)
            fault = held.fault
            applies = method == "GET" or fault.head
            if applies and fault.reset_before_headers and held.resets > 0:
                held.resets -= 1
                return BeforeHeaders(fault, True, None)
            if applies and fault.status is not None and held.statuses > 0:
                held.statuses -= 1
                return BeforeHeaders(fault, False, fault.status)
            return BeforeHeaders(fault, False, None)

    def in_body(
        self, key: tuple[str, str], fault: Fault, start: int, end: int
    ) -> tuple[int | None, int | None]:
        """Where a body of [start, end) is cut and where it stalls (None: it is not), spending
        the fault's budget; only a body that spans the offset counts."""
        cut = stall = None
        with self.lock:
            held = self.faults.get(key)
            if held is None or held.fault is not fault:
                return None, None
            at = fault.truncate_at
            if at is not None and start <= at < end and held.truncations > 0:
                held.truncations -= 1
                cut = at
            at = fault.stall_at
            if at is not None and start <= at < end and held.stalls > 0:
                held.stalls -= 1
                stall = at
        return cut, stall

    # --- the request log -----------------------------------------------------------------------

    def log(self, live: Live) -> None:
        with self.lock:
            self.live.append(live)

    def records(self, repo: str, filename: str) -> list[RequestRecord]:
        with self.lock:
            return [live.record() for live in self.live if live.key == (repo, filename)]

    def clear_log(self) -> None:
        with self.lock:
            self.live.clear()
