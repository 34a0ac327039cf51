"""The simulator's backend: tasks and their verbs, with no HTTP in it.

Both dialects call the same verbs on the same :class:`VideoBackend`, so a task is one thing however
it is addressed. Verbs raise :class:`~mockserver.errors.ApiError` subclasses; the HTTP layer renders
them.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mockserver.catalog import RenderSpec
from mockserver.clock import Clock
from mockserver.errors import InvalidParameter, TaskExpired, TaskFailed, TaskNotFound, TaskNotReady, TooManyTasks
from mockserver.lifecycle import Plan, Script, Snapshot, Status, plan_for, snapshot
from mockserver.scenarios import ScenarioBook, Selection


@dataclass(slots=True)
class Task:
    """One video-generation task.

    Attributes:
        id: The task ID (``video_`` + 32 hex digits), used as ``task_id`` and as the Video ``id``.
        model: The model ID as requested.
        family: The model family (``sora``, ``veo``, ``wanxiang``, ``seedance``).
        prompt: The prompt.
        params: The model parameters as sent (checked and converted).
        render: What the video looks like (pixels, seconds, audio).
        created_at: Simulated unix time of submission, in seconds.
        plan: The lifecycle the task follows.
        dialect: The dialect it was submitted through (``gateway`` or ``openai``).
        remixed_from_video_id: The source task of a remix, else None.
    """

    id: str
    model: str
    family: str
    prompt: str
    params: dict[str, Any]
    render: RenderSpec
    created_at: float
    plan: Plan
    dialect: str
    remixed_from_video_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def snapshot(self, now: float) -> Snapshot:
        """The task's state at ``now`` (unix seconds)."""
        return snapshot(self.plan, self.created_at, now)


#: How many distinct plans and render specs a backend shares between its tasks (issue 9: memory per task).
INTERN_LIMIT = 4096


class VideoBackend:
    """The task store and the verbs every dialect uses; one instance per app.

    The store is bounded (issue 9): a task is evicted ``evict_grace`` seconds after its video
    expired (a failed task: after it failed); at most ``max_tasks`` are stored, and a submit that
    finds the store full with nothing evictable gets :class:`~mockserver.errors.TooManyTasks` (429).
    Tasks with identical plans and render specs share one object of each, to keep memory per task small.

    Args:
        clock: The simulator's clock.
        seed: Seed of the random source for IDs; the same seed gives the same IDs.
        ttl: Seconds from completion until a video expires (a scenario file's ``ttl`` wins).
        scenarios: Scenario file contents and the next-task queue; the defaults when None.
        video_bytes: Pad every MP4 to this many bytes (large-download tests), or None.
        max_tasks: Most tasks stored at once.
        evict_grace: Simulated seconds a task is kept after expiry (or failure) before it is evicted.
    """

    def __init__(self, clock: Clock, *, seed: int | None = None, ttl: float = 3600.0,
                 scenarios: ScenarioBook | None = None, video_bytes: int | None = None,
                 max_tasks: int = 100_000, evict_grace: float = 3600.0) -> None:
        if max_tasks < 1 or evict_grace < 0:
            raise ValueError(f"max_tasks must be >= 1 and evict_grace >= 0, got {max_tasks} and {evict_grace}")
        self.clock = clock
        self.video_bytes = video_bytes
        self.scenarios = scenarios or ScenarioBook(seed=seed)
        self.ttl = ttl if self.scenarios.ttl is None else self.scenarios.ttl
        self.max_tasks = max_tasks
        self.evict_grace = evict_grace
        self._random = random.Random(seed)
        self._tasks: dict[str, Task] = {}
        self._used: set[str] = set()
        self._due: list[tuple[float, str]] = []  # heap of (simulated unix seconds evictable, task ID)
        self._shared: dict[Any, Any] = {}
        #: IDs of tasks created, changed or removed since the state file saved them, in order; None when
        #: nothing is persisted (see ``mockserver.state``). Mark a task changed with :meth:`touch`.
        self.touched: dict[str, None] | None = None

    def touch(self, task_id: str) -> None:
        """Note that a task was created, changed or removed, so the state file saves it (no-op without one)."""
        if self.touched is not None:
            self.touched[task_id] = None

    def reseed(self, material: int | str | None) -> None:
        """Restart the ID sequence from ``material`` (a restart with ``--state``: never the same IDs again)."""
        self._random = random.Random(material)

    def share(self, value: Any) -> Any:
        """An equal object already held by another task, or ``value`` itself (frozen values only)."""
        found = self._shared.get(value)
        if found is not None:
            return found
        if len(self._shared) < INTERN_LIMIT:
            self._shared[value] = value
        return value

    def evictable_at(self, task: Task) -> float:
        """Simulated unix seconds from which ``task`` may be evicted (``math.inf``: never).

        A succeeded task: ``evict_grace`` seconds after its video expires; a failed task:
        ``evict_grace`` seconds after it failed; a task that never ends or never expires: never.
        """
        plan = task.plan
        keep = 0.0 if plan.error is not None else plan.ttl
        return task.created_at + plan.end + keep + self.evict_grace

    def _schedule(self, task: Task) -> None:
        at = self.evictable_at(task)
        if not math.isinf(at):
            heapq.heappush(self._due, (at, task.id))
        if len(self._due) > 2 * len(self._tasks) + 1024:  # deleted tasks left stale entries: compact
            self._due = [(a, i) for a, i in self._due if i in self._tasks]
            heapq.heapify(self._due)

    def evict(self, now: float | None = None, *, limit: int | None = None) -> list[str]:
        """Evict the tasks that are evictable at ``now`` (unix seconds; the clock's now when None).

        Args:
            now: The moment, in simulated unix seconds.
            limit: Evict at most this many (keeps each call short); all when None.

        Returns:
            The evicted task IDs (they answer 404 from now on).
        """
        now = self.clock.now() if now is None else now
        evicted: list[str] = []
        due = self._due
        while due and due[0][0] <= now and (limit is None or len(evicted) < limit):
            _, task_id = heapq.heappop(due)
            task = self._tasks.get(task_id)
            if task is None:
                continue
            at = self.evictable_at(task)  # the plan may have changed since it was scheduled
            if at <= now:
                del self._tasks[task_id]
                self.touch(task_id)
                evicted.append(task_id)
            elif not math.isinf(at):
                heapq.heappush(due, (at, task_id))
        return evicted

    def sweep(self, now: float | None = None, *, limit: int | None = None) -> list[str]:
        """Rebuild the eviction schedule from every stored task, then :meth:`evict` (O(tasks)).

        Catches tasks whose plan was replaced after submission (the control API's succeed, fail
        and expire); run now and then, not per request. ``now`` and ``limit`` as for :meth:`evict`.
        """
        self._due = [(at, task_id) for task_id, task in self._tasks.items()
                     if not math.isinf(at := self.evictable_at(task))]
        heapq.heapify(self._due)
        return self.evict(now, limit=limit)

    def restore(self, task: Task) -> None:
        """Store a task read back from the state file as it was (replacing one with the same ID)."""
        self._tasks[task.id] = task
        self._schedule(task)

    def _make_room(self) -> None:
        """Evict what is due; raise TooManyTasks when the store is still full."""
        now = self.clock.now()
        if self._due and self._due[0][0] <= now:
            self.evict(now, limit=64)
        if len(self._tasks) >= self.max_tasks:
            wait = self.clock.real_seconds(self._due[0][0] - now) if self._due else math.inf
            raise TooManyTasks(self.max_tasks, wait if math.isfinite(wait) else 60.0)

    def new_id(self, prefix: str = "video_") -> str:
        """A fresh, never reused task ID: ``prefix`` + 32 lowercase hex digits."""
        while True:
            candidate = f"{prefix}{self._random.getrandbits(128):032x}"
            if candidate not in self._tasks and candidate not in self._used:
                return candidate

    def create_task(self, *, model: str, family: str, prompt: str, params: dict[str, Any], render: RenderSpec,
                    dialect: str, scenario: str | Script | Selection = "success", task_id: str | None = None,
                    created_at: float | None = None, remixed_from_video_id: str | None = None,
                    ttl: float | None = None) -> Task:
        """Store a new task, submitted now, and return it.

        Args:
            model: Model ID (already checked by the dialect).
            family: Model family, which picks the timing.
            prompt: The prompt.
            params: Checked model parameters as sent.
            render: What to render.
            dialect: ``gateway`` or ``openai``.
            scenario: How the task's life goes: a scenario name, a Script, or a Selection from
                :meth:`~mockserver.scenarios.ScenarioBook.select`.
            task_id: A fixed ID (documented examples); a fresh one when None.
            created_at: Submission time in unix seconds; now when None.
            remixed_from_video_id: Source task of a remix.
            ttl: Seconds from completion to expiry; the backend's default when None.

        Raises:
            InvalidParameter: unknown scenario name.
            TooManyTasks: the store holds ``max_tasks`` tasks and none is evictable (429; not for a fixed ``task_id``).
            ValueError: ``task_id`` already in use.
        """
        if isinstance(scenario, str):
            scenario = Selection(scenario, self.scenarios.check(scenario), "name")
        elif isinstance(scenario, Script):
            scenario = Selection("custom", scenario, "script")
        if render.target_bytes is None and self.video_bytes:
            render = dataclasses.replace(render, target_bytes=self.video_bytes)
        timing = self.scenarios.timing(model, family)
        plan = plan_for(timing, render.seconds, scenario.script, ttl=self.ttl)
        if ttl is not None:
            plan = Plan(plan.phases, plan.error, ttl)
        if task_id is not None and task_id in self._tasks:
            raise ValueError(f"task id {task_id} is already in use")
        if task_id is None:  # the cap bounds submits; the preloaded examples (fixed IDs) always fit
            self._make_room()
        task = Task(
            id=task_id or self.new_id(), model=model, family=family, prompt=prompt, params=params,
            render=self.share(render), created_at=self.clock.now() if created_at is None else created_at,
            plan=self.share(plan),
            dialect=dialect, remixed_from_video_id=remixed_from_video_id,
            extra={"scenario": scenario.name, "scenario_source": scenario.source,
                   "not_ready": scenario.script.not_ready},
        )
        self._tasks[task.id] = task
        self._schedule(task)
        self.touch(task.id)
        return task

    def get_task(self, task_id: str) -> tuple[Task, Snapshot]:
        """The task and its state now.

        Raises:
            TaskNotFound: no such task.
        """
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task, snapshot(task.plan, task.created_at, self.clock.now())  # task.snapshot, one call less

    def find(self, task_id: str) -> Task | None:
        """The task with this ID, or None."""
        return self._tasks.get(task_id)

    def clear(self) -> None:
        """Forget every task (IDs already handed out are still never reused)."""
        self._used.update(self._tasks)
        if self.touched is not None:
            self.touched.update(dict.fromkeys(self._tasks))
        self._tasks.clear()
        self._due.clear()

    def get_video(self, task_id: str) -> tuple[Task, Snapshot]:
        """The task whose video is asked for, if the video can be served now.

        Raises:
            TaskNotFound: no such task.
            TaskNotReady: the task has not reached a terminal status.
            TaskFailed: the task failed.
            TaskExpired: the video is past ``expires_at`` (seed 003: "Generated videos have an
                expiration period"; seed 004: "Once expired, videos cannot be retrieved").
        """
        task, state = self.get_task(task_id)
        if state.status is Status.FAILED:
            raise TaskFailed(task_id)
        if state.status is not Status.SUCCEEDED:
            raise TaskNotReady(task_id, state.status.value)
        if state.expired:
            assert state.expires_at is not None
            raise TaskExpired(task_id, int(state.expires_at))
        return task, state

    def delete_task(self, task_id: str) -> Task:
        """Remove a task; afterwards it is unknown.

        Raises:
            TaskNotFound: no such task.
        """
        task = self._tasks.pop(task_id, None)
        if task is None:
            raise TaskNotFound(task_id)
        self.touch(task_id)
        return task

    def list_tasks(self) -> Iterator[Task]:
        """Every stored task, oldest submission first."""
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def page_tasks(self, *, after: str | None = None, limit: int = 20,
                   order: str = "desc") -> tuple[list[Task], bool]:
        """One page of every stored task, by submission time, for cursor pagination.

        Args:
            after: ID of the last task of the previous page; None for the first page.
            limit: Largest number of tasks on the page (the caller checks its range).
            order: ``asc`` (oldest first) or ``desc`` (newest first); ties keep submission order.

        Returns:
            The page, and whether more tasks follow it.

        Raises:
            InvalidParameter: ``after`` names no stored task (param ``after``).
        """
        tasks = sorted(self._tasks.values(), key=lambda task: task.created_at)
        if order == "desc":
            tasks.reverse()
        start = 0
        if after is not None:
            ids = [task.id for task in tasks]
            if after not in self._tasks:
                raise InvalidParameter("after", f"'after' names no video: '{after}' is unknown or deleted")
            start = ids.index(after) + 1
        return tasks[start : start + limit], start + limit < len(tasks)

    def remix_task(self, source_id: str, *, prompt: str, dialect: str,
                   scenario: str | Script | Selection = "success") -> Task:
        """Store a new task that remixes a succeeded one: same model, family, parameters and render.

        Args:
            source_id: The task to remix; it must have succeeded and not expired.
            prompt: The new prompt.
            dialect: The dialect the remix is submitted through.
            scenario: How the new task's life goes.

        Raises:
            TaskNotFound: no such source task.
            TaskNotReady: the source has not succeeded yet.
            TaskFailed: the source failed.
            TaskExpired: the source's video has expired.
        """
        source, _ = self.get_video(source_id)
        return self.create_task(model=source.model, family=source.family, prompt=prompt, params=dict(source.params),
                                render=source.render, dialect=dialect, scenario=scenario,
                                remixed_from_video_id=source.id)
