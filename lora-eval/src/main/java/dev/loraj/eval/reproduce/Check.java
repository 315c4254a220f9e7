package dev.loraj.eval.reproduce;

import java.util.Objects;

/**
 * One compared quantity.
 *
 * @param quantity what is compared, e.g. "RoBERTa-base, W_q W_v, r = 8"
 * @param paper the published value, as printed
 * @param ours what we compute or measure
 * @param tolerance the accepted difference, in words
 * @param status pass, fail or differs
 * @param note why it differs, or how the paper's rounding was read; may be empty
 */
public record Check(String quantity, String paper, String ours, String tolerance, Status status,
    String note) {

  public Check {
    Objects.requireNonNull(quantity, "quantity");
    Objects.requireNonNull(status, "status");
    paper = paper == null ? "" : paper;
    ours = ours == null ? "" : ours;
    tolerance = tolerance == null ? "" : tolerance;
    note = note == null ? "" : note;
  }

  /** PASS when {@code ok}, otherwise FAIL. */
  public static Check of(String quantity, String paper, String ours, String tolerance, boolean ok,
      String note) {
    return new Check(quantity, paper, ours, tolerance, ok ? Status.PASS : Status.FAIL, note);
  }
}
