package dev.loraj.core.checkpoint;

import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.TrainListener;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Saves the adapter as a PEFT directory every {@code every} steps (and at the last step). The
 * trainer calls listeners only after a step whose loss and gradients were finite, and the save is
 * atomic, so the directory always holds the last good state: after a {@code NonFiniteLossException}
 * it is what to resume from.
 */
public final class CheckpointListener implements TrainListener {

  private final PeftModel model;
  private final String adapterName;
  private final Path dir;
  private final int every;
  private long lastSaved;

  public CheckpointListener(PeftModel model, String adapterName, Path dir, int every) {
    if (every < 1) {
      throw new IllegalArgumentException("checkpoint every = " + every + ": must be >= 1");
    }
    this.model = model;
    this.adapterName = adapterName;
    this.dir = dir;
    this.every = every;
  }

  /** The step of the checkpoint on disk (0: none yet). */
  public long lastSavedStep() {
    return lastSaved;
  }

  @Override
  public void onStep(long step, long totalSteps, double loss, double learningRate, double stepMillis) {
    if (step % every == 0 || step == totalSteps) {
      try {
        PeftAdapters.save(model, adapterName, dir);
        lastSaved = step;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot save checkpoint of step " + step + " to " + dir, e);
      }
    }
  }
}
