"""Typed data of the claims layer: a claim as written in configs/claim/<id>.yaml, one
comparison row, one comparison, and the verdict written to results/verdicts/<claim>.json.

Pydantic v2 with extra="forbid": an unknown key or a wrong type fails with the field's
path. Verdict JSON is dumped without None values, so no report ever prints "None".
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.stats import Difference

VERDICTS = ("supported", "refuted", "inconclusive", "not yet measured", "out of scope")
QUANTIFIERS = (
    "beats",
    "beats_on_several",
    "on_all",
    "might_surpass",
    "on_par",
    "on_par_or_better",
    "reproduces",
    "out_of_scope",
)
PARITY = ("on_par", "on_par_or_better")


class Strict(BaseModel):
    """Unknown keys are errors; values are coerced (a claim file's `3` is a valid 3.0), unlike
    harness.typed.Strict, which checks data the code itself built and coerces nothing."""

    model_config = ConfigDict(extra="forbid")


class Statement(Strict):
    original: str
    language: str = "en"
    english: str = ""


class Rival(Strict):
    name: str  # as the table prints it, or a model config name
    why: str  # why this row stands for the rival the claim names


class RuleCheck(Strict):
    """Another pair of the same table judged by the same rule, to show what the rule does."""

    subject: str
    rival: str
    why: str


class PublishedEvidence(Strict):
    table: str
    subject: str  # model name as the table prints it
    rivals: list[Rival]
    alternatives: list[Rival] = []  # other rows a reader could take as the rival (sensitivity view)
    checks: list[RuleCheck] = []  # e.g. the two rivals against each other, or roles swapped
    benchmarks: list[str] = []  # empty = every benchmark both have


class ClaimedModel(Strict):
    """What the claim is about, to tell when our measured model is only a proxy."""

    name: str  # as the claim names it
    variant: Optional[Literal["base", "instruct"]] = None
    quantized: bool = False


class MeasuredEvidence(Strict):
    subject: str  # model config names
    rivals: list[Rival]
    benchmarks: list[str]  # benchmark config names
    # Judged only while none of `benchmarks` has records of both models (a substitute
    # setting); afterwards shown as superseded, never deciding.
    fallback_benchmarks: list[str] = []
    claimed_models: dict[str, ClaimedModel] = {}  # model config -> the model the claim names
    # benchmark -> why one of the models can never run it here (shown, never decides)
    not_measurable: dict[str, str] = {}


class MeasuredVsPublished(Strict):
    subject: str  # model config name (our records)
    table: str
    rivals: list[Rival]  # model names as the table prints them
    benchmarks: dict[str, str]  # our benchmark config -> "Benchmark|setting" in the table


class Reproduction(Strict):
    model: str  # model config name
    benchmark: str  # benchmark config name
    table: str
    published_model: str
    published_benchmark: str
    known_differences: list[str] = []
    # The card's metric as the mean of these record metrics ("prompt_level_strict_acc");
    # empty: the record's primary metric.
    metric: list[str] = []
    proxy: str = ""  # how the packaged model differs from the model the card row is about
    not_measurable: str = ""  # why this card row cannot be measured here (shown, never decides)


class Speed(Strict):
    faster: list[str]
    than: str


class Claim(Strict):
    id: str
    label: str = ""  # "C1".."C8": the order of the report's top table
    statement: Statement
    said_by: str
    where: str
    when: str
    quantifier: Literal[QUANTIFIERS]
    semantics: str = ""  # what the quantifier means for this claim, in words
    min_count: int = 2  # "several": at least this many wins
    margin: Optional[float] = None  # points: parity claims
    margin_reason: str = ""
    claimed_gap: Optional[float] = None  # points: the gap the claim asserts (power is judged against it)
    claimed_gap_source: str = ""
    evidence_as_of: str = ""  # might_surpass: which evidence existed when the claim was made
    alpha: float = 0.05
    published: Optional[PublishedEvidence] = None
    measured: Optional[MeasuredEvidence] = None
    measured_vs_published: Optional[MeasuredVsPublished] = None
    reproduction: list[Reproduction] = []
    speed: Optional[Speed] = None  # judged from throughput in records
    reason: str = ""  # why out of scope
    notes: str = ""

    @model_validator(mode="after")
    def _stated(self) -> Claim:
        if self.quantifier == "out_of_scope":
            if not self.reason:
                raise ValueError("an out-of-scope claim needs a reason")
            return self
        if not self.semantics:
            raise ValueError("state the quantifier's semantics for this claim ('semantics:')")
        if not self.margin_reason:
            raise ValueError("state the margin policy and its reason ('margin_reason:'; say 'No margin: ...' for wins)")
        if self.quantifier in PARITY and self.margin is None:
            raise ValueError("a parity claim needs 'margin' and 'margin_reason'")
        if self.quantifier == "reproduces" and (self.margin is None or not self.reproduction):
            raise ValueError("a reproduction claim needs 'margin' (the tolerance, points) and 'reproduction' rows")
        if self.quantifier == "might_surpass" and not self.evidence_as_of:
            raise ValueError("a might_surpass claim needs 'evidence_as_of' (the evidence of its time)")
        return self


class Row(Strict):
    """One benchmark of one comparison. `status` says whether it was tested."""

    benchmark: str
    label: str  # benchmark with its setting, as shown to readers
    status: str = "compared"  # compared | untestable | setup mismatch | not yet measured | ...
    status_detail: Optional[str] = None
    subject: Optional[float] = None
    rival: Optional[float] = None
    subject_setup: Optional[str] = None
    rival_setup: Optional[str] = None
    difference: Optional[float] = None
    ci95: Optional[list[float]] = None
    p_value: Optional[float] = None
    p_holm: Optional[float] = None
    n_items: Optional[int] = None
    n_source: Optional[str] = None
    method: Optional[str] = None
    mde: Optional[float] = None  # minimum detectable effect, 80% power, points
    mde_basis: Optional[str] = None
    power_note: Optional[str] = None  # inconclusive rows: underpowered vs detected equivalence
    outcome: Optional[str] = None
    chance: Optional[float] = None  # measured multiple-choice cells: chance baseline, points
    clustered_se: Optional[float] = None  # points, clustered by subtask (Miller 2024)
    parity_warnings: list[str] = []
    subject_source: Optional[str] = None
    rival_source: Optional[str] = None
    records: list[str] = []
    diff: Optional[Difference] = Field(default=None, exclude=True)

    @property
    def has_numbers(self) -> bool:
        return self.difference is not None


class Comparison(Strict):
    evidence: str
    subject: str
    rival: str
    rival_why: str = ""
    verdict: str
    reason: str
    deciding_rows: list[str] = []
    rows: list[Row]


class Alternative(Strict):
    subject: str = ""
    rival: str
    why: str = ""
    verdict: str
    reason: str


class ReproductionRow(Strict):
    model: str
    benchmark: str
    label: str
    status: str
    known_differences: list[str] = []
    measured: Optional[float] = None
    ci95: Optional[list[float]] = None
    stderr: Optional[float] = None  # points
    metric: Optional[str] = None  # what `measured` is, from the record
    n_items: Optional[int] = None
    limit: Optional[int] = None  # our record scored only the first `limit` items per task
    outcome: Optional[str] = None  # reproduction claims: reproduced | not reproduced | unclear | ...
    power_note: Optional[str] = None
    proxy: Optional[str] = None
    published: Optional[float] = None
    published_setting: Optional[str] = None
    published_source: Optional[str] = None
    gap: Optional[float] = None
    record: Optional[str] = None
    parity_warnings: list[str] = []


class SpeedVerdict(Strict):
    verdict: str
    reason: str


class Verdict(Strict):
    claim: str
    label: str = ""
    statement: Statement
    said_by: str
    where: str
    when: str
    quantifier: str
    semantics: str = ""
    margin: Optional[float] = None
    margin_reason: str = ""
    verdict: Literal[VERDICTS]
    reason: str
    why: str = ""  # one line naming the deciding rows
    deciding_rows: list[str] = []
    rival_chosen: str = ""
    decided_by: Optional[str] = None
    proxy: list[str] = []  # how the measured models differ from the ones the claim names
    sensitivity: list[Alternative] = []
    depends_on_rival: Optional[bool] = None
    rule_checks: list[Alternative] = []  # the same rule on other pairs of the table
    speed: Optional[SpeedVerdict] = None
    setup_parity_warnings: list[str] = []
    comparisons: list[Comparison] = []
    reproduction: list[ReproductionRow] = []
    schema_version: Optional[str] = None
    kind: Optional[str] = None
    judged_at: Optional[str] = None
    versions: Optional[dict] = None

    def dump(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)
