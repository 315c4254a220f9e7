package dev.loraj.eval.reproduce;

/** A reproduction that is planned but not implemented: it states the claim and its source. */
record Planned(String id, String title, String source, String claim) implements Reproduction {

  @Override
  public Kind kind() {
    return Kind.MEASURED;
  }

  @Override
  public boolean implemented() {
    return false;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    return ReproductionResult.planned(this);
  }
}
