"""Request and response models of the HTTP API (pydantic). OpenAI-compatible where the route is."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.types import Answer, Citation


# --- errors ----------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None
    retryable: bool = False
    reasons: list[str] | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    """Every error answer, in the OpenAI error shape."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {401: "Missing or unknown API key", 403: "Role not allowed", 413: "Question, history, prompt or file too large",
                       415: "Unsupported file type", 422: "Invalid request field",
                       429: "Rate limit of the API key reached (Retry-After)",
                       503: "Backend unavailable, or sensitive request refused (not sent elsewhere)"}.items()
}


# --- query -----------------------------------------------------------------------------------------


class QueryRequest(BaseModel):
    """A question over the documents the caller may read."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="The question (at most Settings.max_question_chars characters).")
    top_k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve; default Settings.top_k.")


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str


class RoutePlanRequest(BaseModel):
    """A dry run: what a question (with optional chat history) would send where."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="The question (at most Settings.max_question_chars characters).")
    history: list[HistoryMessage] = Field(default_factory=list, description="Earlier turns, oldest first.")
    top_k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve; default Settings.top_k.")


class PlannedChunk(BaseModel):
    chunk_id: str
    doc_id: str
    label: str


class RoutePlanResponse(BaseModel):
    """Where the request would go and what it would carry: ids, labels, entity types, offsets, levels; never text."""

    request_id: str
    route: str
    level: str
    reasons: list[str]
    chunks: list[PlannedChunk]
    findings: list[dict[str, Any]]
    prompt_tokens: int


class CitationOut(BaseModel):
    doc_id: str
    source: str
    title: str
    chunk_id: str
    snippet: str

    @classmethod
    def of(cls, citation: Citation) -> "CitationOut":
        return cls(doc_id=citation.doc_id, source=citation.source, title=citation.title,
                   chunk_id=citation.chunk_id, snippet=citation.snippet)


class QueryResponse(BaseModel):
    request_id: str
    answer: str
    citations: list[CitationOut]
    route: str
    reasons: list[str]
    level: str
    model: dict[str, Any]
    latencies: dict[str, float]
    usage: dict[str, int] = {}

    @classmethod
    def of(cls, answer: Answer, model: dict[str, Any]) -> "QueryResponse":
        return cls(request_id=answer.request_id, answer=answer.text,
                   citations=[CitationOut.of(c) for c in answer.citations], route=answer.route,
                   reasons=list(answer.reasons), level=str(answer.level), model=model,
                   latencies=dict(answer.latencies), usage=dict(answer.usage))


# --- chat completions (OpenAI-compatible) ----------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined; other parts ignored)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if p.type == "text" and p.text)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI chat completion request. `model` must be "rag" (auto-routed); sampling fields are ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = "rag"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    top_k: int | None = Field(None, ge=1, le=50, description="Non-standard: chunks to retrieve.")
    user: str | None = Field(None, description="Ignored: identity comes from the API key only.")


class RagInfo(BaseModel):
    """Non-standard routing details attached to chat completions."""

    request_id: str
    route: str
    reasons: list[str]
    level: str
    citations: list[CitationOut]
    model: dict[str, Any]
    latencies: dict[str, float]


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, usage: dict[str, int]) -> "Usage":
        prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        return cls(prompt_tokens=prompt, completion_tokens=completion,
                   total_tokens=int(usage.get("total_tokens", prompt + completion)))


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    rag: RagInfo


# --- models ----------------------------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
    registry: list[dict[str, Any]] = Field(default_factory=list, description="Models behind the 'rag' model.")


# --- documents -------------------------------------------------------------------------------------


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    title: str
    format: str
    content_hash: str
    version: int
    groups: list[str]
    declared: str
    label: str
    chunk_count: int
    ingested_at: str
    action: str | None = Field(None, description="On upload: added, updated or unchanged.")

    @classmethod
    def of(cls, record: Any, action: str | None = None) -> "DocumentOut":
        return cls(doc_id=record.doc_id, source=record.source, title=record.title, format=record.format,
                   content_hash=record.content_hash, version=record.version, groups=list(record.groups),
                   declared=str(record.declared), label=str(record.label), chunk_count=record.chunk_count,
                   ingested_at=str(record.ingested_at), action=action)


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class DocumentDeleted(BaseModel):
    doc_id: str
    deleted: bool = True


# --- health ----------------------------------------------------------------------------------------


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Anonymous and non-admin callers get `status` only; admins also get the details."""

    status: Literal["ready", "unavailable"]
    backends: dict[str, dict[str, Any]] | None = None
    index: dict[str, Any] | None = None
    models: list[dict[str, Any]] | None = None


# --- search ----------------------------------------------------------------------------------------


class SearchRequest(BaseModel):
    """Retrieval only (no generation), over the documents the caller may read."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    top_k: int | None = Field(None, ge=1, le=50)
    mode: Literal["dense", "bm25", "hybrid", "graph", "all"] | None = Field(
        None, description="Default: Settings.search_mode.")


class SearchHitOut(BaseModel):
    chunk_id: str
    doc_id: str
    source: str
    title: str
    text: str
    score: float
    heading: str | None = None
    page: int | None = None
    retrievers: dict[str, int] = {}

    @classmethod
    def of(cls, hit: Any) -> "SearchHitOut":
        return cls(chunk_id=hit.chunk_id, doc_id=hit.doc_id, source=hit.source, title=hit.title, text=hit.text,
                   score=float(hit.score), heading=hit.heading, page=hit.page, retrievers=dict(hit.retrievers))


class SearchResponse(BaseModel):
    request_id: str
    hits: list[SearchHitOut]
