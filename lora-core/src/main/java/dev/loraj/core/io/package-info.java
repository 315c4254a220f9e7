/**
 * Checkpoint IO: the safetensors format (huggingface/safetensors) and atomic file writes.
 *
 * <p>Reading: {@link dev.loraj.core.io.SafetensorsFile} (one file, memory-mapped, validated
 * at open) and {@link dev.loraj.core.io.ShardedCheckpoint} (a Hugging Face checkpoint
 * directory, single file or {@code .index.json} shards), both behind {@link
 * dev.loraj.core.io.TensorSource}. Writing: {@link dev.loraj.core.io.SafetensorsWriter}, whose
 * output is byte-identical to the reference library's (golden files in
 * {@code src/test/resources/golden/safetensors_v1}), through {@link
 * dev.loraj.core.io.AtomicFiles}. Malformed input fails with {@link
 * dev.loraj.core.io.SafetensorsFormatException}.
 */
package dev.loraj.core.io;
