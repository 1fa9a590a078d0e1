"""The Codegen API client: typed models, typed errors, shared rate limiters and the calls."""

from bot.codegen.client import CodegenClient
from bot.codegen.errors import (
    AccessDenied,
    CodegenError,
    CodegenUnavailable,
    InvalidRequest,
    PlanLimitReached,
    RateLimited,
    RepositoryNotFound,
    RunNotFound,
    RunNotResumable,
)
from bot.codegen.limiter import RateLimits, SlidingWindowLimiter
from bot.codegen.models import (
    FINISHED_STATUSES,
    AgentRun,
    CreateRunInput,
    ErrorBody,
    Integrations,
    IntegrationStatus,
    Organization,
    PullRequest,
    Repository,
    ResumeRunInput,
    RunLog,
    RunLogs,
    RunPage,
    User,
    ValidationErrorBody,
    ValidationIssue,
)
from bot.codegen.pr_calls import PR_FLAGS, PullRequestNotFound
from bot.codegen.pr_models import EditPRResult, PRState, SetupCommands
from bot.codegen.run_calls import IDEMPOTENCY_KEY

__all__ = [
    "FINISHED_STATUSES",
    "IDEMPOTENCY_KEY",
    "PR_FLAGS",
    "AccessDenied",
    "AgentRun",
    "CodegenClient",
    "CodegenError",
    "CodegenUnavailable",
    "CreateRunInput",
    "EditPRResult",
    "ErrorBody",
    "IntegrationStatus",
    "Integrations",
    "InvalidRequest",
    "Organization",
    "PRState",
    "PlanLimitReached",
    "PullRequest",
    "PullRequestNotFound",
    "RateLimited",
    "RateLimits",
    "Repository",
    "RepositoryNotFound",
    "ResumeRunInput",
    "RunLog",
    "RunLogs",
    "RunNotFound",
    "RunNotResumable",
    "RunPage",
    "SetupCommands",
    "SlidingWindowLimiter",
    "User",
    "ValidationErrorBody",
    "ValidationIssue",
]
