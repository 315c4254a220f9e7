package dev.loraj.eval.reproduce;

/**
 * One published number or claim checked against what this framework computes or measures.
 *
 * <p>An implementation states the claim and its source (paper, table or section), runs the
 * computation in {@link #run}, and returns one {@link Check} per number compared. Exact
 * reproductions (closed forms, codebooks) ignore {@code quick}; measured ones shrink their
 * problem when it is set, so that every quick run fits in CI (seconds).
 *
 * <p>Adding a reproduction = one class + one line in {@link Reproductions#all()}.
 */
public interface Reproduction {

  /** Short stable id used on the command line, e.g. {@code lora-table2-params}. */
  String id();

  /** One line: what is reproduced. */
  String title();

  /** Where the claim is published: paper (arXiv id), table or section. */
  String source();

  /** The claim in the paper's words (or a faithful paraphrase). */
  String claim();

  /** {@code exact} (computed, must match) or {@code measured} (small-scale experiment). */
  Kind kind();

  /** False for planned entries that only state the claim. */
  default boolean implemented() {
    return true;
  }

  /**
   * Computes or measures and compares.
   *
   * @param quick shrink measured experiments to seconds; exact reproductions ignore it
   */
  ReproductionResult run(boolean quick) throws Exception;

  enum Kind { EXACT, MEASURED }
}
