package dev.loraj.bench.report;

/** One rendered chart: its file name in the report directory, a caption, and the PNG bytes. */
record Plot(String file, String caption, byte[] png) {}
