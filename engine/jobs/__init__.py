"""The job machinery: what a job is (:mod:`~engine.jobs.spec`), the registry of the jobs an
engine runs (:mod:`~engine.jobs.registry`) and how one execution runs and is recorded
(:mod:`~engine.jobs.runner`). The concrete jobs live in the ``jobs`` package, above the engine;
the registry of them is passed in where the engine is wired together."""

from engine.jobs.registry import JobRegistry
from engine.jobs.runner import execution, execution_id_by_key, run_job
from engine.jobs.spec import BATCH_PARAM, JobContext, JobFn, JobResult, JobSpec, batch_param, check_params

__all__ = ["BATCH_PARAM", "JobContext", "JobFn", "JobRegistry", "JobResult", "JobSpec", "batch_param", "check_params",
           "execution", "execution_id_by_key", "run_job"]
