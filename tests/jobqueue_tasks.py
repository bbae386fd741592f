"""Job functions for tests/test_jobqueue.py, for two job-queue libraries.

The workers run in their own processes and import this module by name, so it
must stay importable from tests/ on its own (no fixtures, no harness).  Every
job records each of its attempts in the server itself: a counter per job id,
and which worker process ran it, so the test can check retry counts and that
several workers took part.

* dramatiq: the actors below are declared on a broker built from the
  ``JOBQUEUE_URL`` environment variable (read at import; no connection is made
  until a worker uses it).  The worker command is ``dramatiq jobqueue_tasks``.
* rq: plain functions (``rq_*``), which rq's workers call by their dotted name.
"""

import os
import threading
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

# Keys the jobs write, all under one prefix the test reads back.
PREFIX = "jobqueue-test:"

# Each job takes a moment, so that jobs queued together spread over workers.
WORK_SECONDS = 0.05

QUEUE = "jobqueue"


def attempts_key(job_id):
    return f"{PREFIX}attempts:{job_id}"


RAN_BY = PREFIX + "ran-by"


def _record(conn, job_id, worker):
    """Count this attempt of a job and note which worker ran it; return the attempt number."""
    attempt = conn.incr(attempts_key(job_id))
    conn.hset(RAN_BY, f"{job_id}:{attempt}", worker)
    time.sleep(WORK_SECONDS)
    return attempt


# ---------------------------------------------------------------------------
# dramatiq
# ---------------------------------------------------------------------------

URL = os.environ.get("JOBQUEUE_URL", "redis://127.0.0.1:6379/0")


def make_broker(url):
    """A broker with the middleware the actors rely on: results kept in the server
    (failures too), and the current message visible to the actor."""
    broker = RedisBroker(url=url)
    broker.add_middleware(Results(backend=RedisBackend(url=url)))
    broker.add_middleware(CurrentMessage())
    return broker


broker = make_broker(URL)
dramatiq.set_broker(broker)

# Retries wait 100 ms to a few hundred ms instead of the default 15 s and more.
RETRY_OPTIONS = {"min_backoff": 100, "max_backoff": 400}


def _attempt():
    message = CurrentMessage.get_current_message()
    worker = f"{os.getpid()}/{threading.get_ident()}"
    return _record(broker.client, message.message_id, worker)


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=0)
def add(a, b):
    _attempt()
    return a + b


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=3, **RETRY_OPTIONS)
def flaky(fail_times, value):
    """Fails on its first ``fail_times`` attempts, then returns ``value`` and the attempt
    that succeeded."""
    attempt = _attempt()
    if attempt <= fail_times:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return [value, attempt]


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=2, **RETRY_OPTIONS)
def always_fails(tag):
    attempt = _attempt()
    raise ValueError(f"job {tag} always fails (attempt {attempt})")


@dramatiq.actor(queue_name=QUEUE, store_results=True, max_retries=0)
def when():
    """The time the job ran, to check that a delayed job waited."""
    _attempt()
    return time.time()


# ---------------------------------------------------------------------------
# rq
# ---------------------------------------------------------------------------

def _rq_attempt():
    # Imported here so that the dramatiq workers never need rq.
    from rq import get_current_job

    job = get_current_job()
    # rq runs each job in a child process the worker forks: the worker is the parent.
    return _record(job.connection, job.id, str(os.getppid()))


def rq_add(a, b):
    _rq_attempt()
    return a + b


def rq_flaky(fail_times, value):
    attempt = _rq_attempt()
    if attempt <= fail_times:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return [value, attempt]


def rq_always_fails(tag):
    attempt = _rq_attempt()
    raise ValueError(f"job {tag} always fails (attempt {attempt})")


def rq_when():
    _rq_attempt()
    return time.time()


def rq_total_of(*job_ids):
    """Sums the results of other jobs: it runs after them through dependencies."""
    from rq import get_current_job
    from rq.job import Job

    _rq_attempt()
    conn = get_current_job().connection
    return sum(Job.fetch(job_id, connection=conn).return_value() for job_id in job_ids)
