package dev.loraj.core.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;

/** One-line descriptions of parser errors (Jackson's messages span lines and quote the source). */
public final class ConfigText {
  private ConfigText() {}

  /** {@code "<problem> at line L, column C"} on one line, at most 200 characters. */
  public static String oneLine(JsonProcessingException e) {
    String problem = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
    problem = problem.replaceAll("\\s+", " ").trim();
    if (problem.length() > 200) {
      problem = problem.substring(0, 197) + "...";
    }
    JsonLocation at = e.getLocation();
    return at == null || at.getLineNr() < 1 ? problem
        : problem + " at line " + at.getLineNr() + ", column " + at.getColumnNr();
  }
}
