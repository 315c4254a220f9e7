package dev.loraj.spark;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one Spark task sends back to the driver: the trial record as JSON text (the content of
 * {@code trials/<id>.json}), the files of the adapter folder the trial saved (none for full
 * fine-tuning), and where it ran. Results travel with the task result, so the driver needs no filesystem shared with the
 * executors.
 *
 * <p>A plain class rather than a record: Spark may serialize task results with Kryo, which cannot
 * set a record's final fields.
 */
final class TrialOutput implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String id;
  private final String json;
  private final LinkedHashMap<String, byte[]> adapter;
  private final String executor;

  TrialOutput(String id, String json, LinkedHashMap<String, byte[]> adapter, String executor) {
    this.id = id;
    this.json = json;
    this.adapter = adapter;
    this.executor = executor;
  }

  String id() {
    return id;
  }

  /** The trial record, as {@code TrialRunner} produced it. */
  String json() {
    return json;
  }

  /**
   * The adapter folder's files by name, in the order to write them (weights before
   * {@code adapter_config.json}, as PEFT adapter directories are written); empty when the trial
   * kept none.
   */
  Map<String, byte[]> adapter() {
    return adapter;
  }

  /** {@code host/executor-id} of the executor that ran the trial (for the log). */
  String executor() {
    return executor;
  }
}
