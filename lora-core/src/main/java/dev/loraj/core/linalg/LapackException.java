package dev.loraj.core.linalg;

/**
 * A LAPACK routine returned a non-zero {@code info}.
 *
 * <p>LAPACK's convention: {@code info < 0} means argument number {@code -info} was illegal (a bug
 * in this package, please report it); {@code info > 0} is a numerical failure whose meaning depends
 * on the routine (no convergence for {@code sgesdd}, an exactly singular pivot for
 * {@code sgetrf}/{@code sgesv}).
 */
public final class LapackException extends ArithmeticException {
  private static final long serialVersionUID = 1L;

  private final String routine;
  private final int info;

  LapackException(String routine, int info, String meaning) {
    super("LAPACK " + routine + " failed with info=" + info + ": " + meaning);
    this.routine = routine;
    this.info = info;
  }

  /** The LAPACKE routine name, e.g. {@code sgesdd}. */
  public String routine() {
    return routine;
  }

  /** The raw {@code info} value LAPACK returned (never 0). */
  public int info() {
    return info;
  }
}
