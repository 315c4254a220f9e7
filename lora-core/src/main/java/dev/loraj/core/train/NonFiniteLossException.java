package dev.loraj.core.train;

/** Training stopped because the loss or a gradient was NaN/infinite; parameters are those of the last good step. */
public final class NonFiniteLossException extends RuntimeException {
  private final long step;

  public NonFiniteLossException(long step, String what) {
    super("training stopped at step " + step + ": " + what
        + "; the parameters (and the last checkpoint) are from step " + (step - 1));
    this.step = step;
  }

  public long step() {
    return step;
  }
}
