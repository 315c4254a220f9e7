package dev.loraj.eval.reproduce;

import java.util.List;

/**
 * What one reproduction found.
 *
 * @param id the reproduction's id
 * @param title one line
 * @param source paper, table or section
 * @param claim the published claim
 * @param kind exact or measured
 * @param quick whether the measured experiment ran in its reduced size
 * @param status the worst status over the checks (NOT_IMPLEMENTED for planned entries)
 * @param checks one per compared number
 * @param method what we compute or measure, in a sentence or two
 * @param seconds wall time of the run
 */
public record ReproductionResult(String id, String title, String source, String claim,
    Reproduction.Kind kind, boolean quick, Status status, List<Check> checks, String method,
    double seconds) {

  public ReproductionResult {
    checks = List.copyOf(checks);
  }

  /** A result whose status is the worst of its checks. */
  public static ReproductionResult of(Reproduction r, boolean quick, String method, List<Check> checks) {
    if (checks.isEmpty()) {
      throw new IllegalArgumentException("checks: reproduction '" + r.id() + "' returned none");
    }
    Status s = Status.PASS;
    for (Check c : checks) {
      s = Status.worst(s, c.status());
    }
    return new ReproductionResult(r.id(), r.title(), r.source(), r.claim(), r.kind(), quick, s,
        checks, method, 0);
  }

  /** The entry of a planned reproduction. */
  public static ReproductionResult planned(Reproduction r) {
    return new ReproductionResult(r.id(), r.title(), r.source(), r.claim(), r.kind(), false,
        Status.NOT_IMPLEMENTED, List.of(), "", 0);
  }

  ReproductionResult withSeconds(double s) {
    return new ReproductionResult(id, title, source, claim, kind, quick, status, checks, method, s);
  }
}
