"""Tasks the reminder batch leaves for collectors (a call instead of another message): listing a
collector's open tasks and marking one done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.models import Customer, Task, User
from core.roles import Actor, Permission
from core.services import audit
from core.services.customers import get_customer_row, require_work


@dataclass(frozen=True)
class TaskLine:
    task_id: int
    customer_id: int
    customer: str
    kind: str
    title: str
    script: str
    due_on: date
    assigned_to: str | None


def open_tasks(session: Session, actor: Actor, *, limit: int = 200) -> list[TaskLine]:
    """Open tasks, oldest due first; a collector sees those on their own accounts."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "task.list", "task")
    query = (
        select(Task, Customer.name, User.name)
        .join(Customer, Customer.id == Task.customer_id)
        .outerjoin(User, User.id == Task.assigned_to)
        .where(Task.status == "open")
        .order_by(Task.due_on, Task.id)
        .limit(limit)
    )
    if (mine := actor.assigned_only) is not None:
        query = query.where(Customer.collector_id == mine)
    return [
        TaskLine(t.id, t.customer_id, name, t.kind, t.title, t.script, t.due_on, assignee)
        for t, name, assignee in session.execute(query)
    ]


def complete_task(session: Session, actor: Actor, task_id: int) -> None:
    task = session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFound(f"No task #{task_id}.")
    require_work(session, actor, get_customer_row(session, task.customer_id), "task.complete")
    if task.status != "open":
        raise Conflict(f"Task #{task_id} is already {task.status} ({task.done_by}).")
    task.status, task.done_at, task.done_by = "done", datetime.now(UTC), actor.username
    session.flush()
    audit.record(session, actor, "task.complete", "task", task_id, after={"status": "done"})
