package dev.loraj.eval.reproduce;

/** Outcome of a check or of a whole reproduction. */
public enum Status {
  /** Within the stated tolerance. */
  PASS,
  /** Outside the tolerance, with an explanation of why (e.g. the paper's own numbers disagree). */
  DIFFERS,
  /** Outside the tolerance, no explanation: a bug here or a claim that does not hold. */
  FAIL,
  /** Planned: the claim is listed, nothing is computed yet. */
  NOT_IMPLEMENTED;

  public String label() {
    return switch (this) {
      case PASS -> "pass";
      case DIFFERS -> "differs (explained)";
      case FAIL -> "fail";
      case NOT_IMPLEMENTED -> "not yet implemented";
    };
  }

  /** The worse of two statuses: FAIL > DIFFERS > PASS. */
  static Status worst(Status a, Status b) {
    return a.ordinal() >= b.ordinal() ? a : b;
  }
}
