package dev.loraj.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The tensors of a Hugging Face checkpoint directory: either one {@code <base>.safetensors}
 * or the shards listed by {@code <base>.safetensors.index.json}, which has the form {@code
 * {"metadata": {...}, "weight_map": {tensorName: shardFile}}} (transformers'
 * {@code save_pretrained}). The single file wins when both exist, as in transformers.
 *
 * <p>Validation at open: every shard is a plain file name inside the directory and exists,
 * every shard passes {@link SafetensorsFile}'s checks, every mapped tensor is in its shard,
 * and every tensor of a shard is mapped to that shard (a tensor the index does not list, or
 * lists under another shard, is a broken checkpoint). {@link #metadata()} is the file's
 * {@code __metadata__}, or for shards the index's {@code metadata} with non-string values
 * (such as {@code total_size}) in their JSON spelling.
 */
public final class ShardedCheckpoint implements TensorSource {
  private final Path directory;
  private final Map<String, SafetensorsFile> owner; // tensor name -> its shard, storage order
  private final List<SafetensorsFile> shards;
  private final Map<String, String> metadata;

  private ShardedCheckpoint(
      Path directory, Map<String, SafetensorsFile> owner, List<SafetensorsFile> shards,
      Map<String, String> metadata) {
    this.directory = directory;
    this.owner = Collections.unmodifiableMap(owner);
    this.shards = List.copyOf(shards);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /** Opens {@code model.safetensors} or {@code model.safetensors.index.json} in {@code dir}. */
  public static ShardedCheckpoint open(Path directory) throws IOException {
    return open(directory, "model");
  }

  /**
   * Opens {@code <base>.safetensors} or {@code <base>.safetensors.index.json} in {@code dir}
   * (e.g. base "adapter_model" for a PEFT adapter directory).
   */
  public static ShardedCheckpoint open(Path directory, String base) throws IOException {
    Path single = directory.resolve(base + ".safetensors");
    Path index = directory.resolve(base + ".safetensors.index.json");
    if (Files.isRegularFile(single)) {
      SafetensorsFile file = SafetensorsFile.open(single);
      Map<String, SafetensorsFile> owner = new LinkedHashMap<>();
      for (String name : file.names()) {
        owner.put(name, file);
      }
      return new ShardedCheckpoint(directory, owner, List.of(file), file.metadata());
    }
    if (Files.isRegularFile(index)) {
      return openIndex(directory, index);
    }
    throw new java.nio.file.NoSuchFileException(
        directory.toString(), null,
        "directory has neither " + single.getFileName() + " nor " + index.getFileName());
  }

  private static ShardedCheckpoint openIndex(Path directory, Path index) throws IOException {
    long size = Files.size(index);
    if (size > SafetensorsHeader.MAX_HEADER_BYTES) {
      throw new SafetensorsFormatException(
          index, "index file has " + size + " bytes; refusing more than "
              + SafetensorsHeader.MAX_HEADER_BYTES);
    }
    JsonNode root = SafetensorsHeader.readJson(index, Files.readAllBytes(index), "index file");
    if (!root.isObject()) {
      throw new SafetensorsFormatException(
          index, "index is a JSON " + root.getNodeType() + "; expected an object with"
              + " \"weight_map\"");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    JsonNode meta = root.get("metadata");
    if (meta != null && !meta.isNull()) {
      if (!meta.isObject()) {
        throw new SafetensorsFormatException(
            index, "\"metadata\" is a JSON " + meta.getNodeType() + "; expected an object");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = meta.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        JsonNode v = e.getValue();
        metadata.put(e.getKey(), v.isTextual() ? v.textValue() : v.toString());
      }
    }
    JsonNode weightMap = root.get("weight_map");
    if (weightMap == null || !weightMap.isObject()) {
      throw new SafetensorsFormatException(
          index, "\"weight_map\" is " + (weightMap == null ? "missing" : "a JSON "
              + weightMap.getNodeType()) + "; expected an object {tensorName: shardFile}");
    }
    Map<String, String> shardOf = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode v = e.getValue();
      if (!v.isTextual() || !isPlainFileName(v.textValue())) {
        throw new SafetensorsFormatException(
            index, "weight_map maps '" + e.getKey() + "' to " + v + "; expected the file name"
                + " of a shard in the same directory");
      }
      shardOf.put(e.getKey(), v.textValue());
    }

    Map<String, SafetensorsFile> opened = new TreeMap<>();
    try {
      for (String shard : shardOf.values()) {
        if (!opened.containsKey(shard)) {
          Path path = directory.resolve(shard);
          if (!Files.isRegularFile(path)) {
            throw new SafetensorsFormatException(
                index, "weight_map names shard '" + shard + "' but " + path
                    + " does not exist");
          }
          opened.put(shard, SafetensorsFile.open(path));
        }
      }
      Map<String, SafetensorsFile> owner = new LinkedHashMap<>();
      for (Map.Entry<String, String> e : shardOf.entrySet()) {
        SafetensorsFile shard = opened.get(e.getValue());
        if (!shard.contains(e.getKey())) {
          throw new SafetensorsFormatException(
              index, "weight_map maps '" + e.getKey() + "' to shard '" + e.getValue()
                  + "', which has no such tensor");
        }
        owner.put(e.getKey(), shard);
      }
      for (Map.Entry<String, SafetensorsFile> s : opened.entrySet()) {
        for (String name : s.getValue().names()) {
          String listed = shardOf.get(name);
          if (!s.getKey().equals(listed)) {
            throw new SafetensorsFormatException(
                index, "shard '" + s.getKey() + "' holds tensor '" + name + "', which weight_map "
                    + (listed == null ? "does not list" : "maps to shard '" + listed + "'")
                    + "; every tensor must be listed under the shard that holds it");
          }
        }
      }
      return new ShardedCheckpoint(directory, owner, new ArrayList<>(opened.values()), metadata);
    } catch (IOException | RuntimeException e) {
      for (SafetensorsFile f : opened.values()) {
        f.close();
      }
      throw e;
    }
  }

  private static boolean isPlainFileName(String name) {
    return !name.isEmpty()
        && !name.equals(".")
        && !name.equals("..")
        && name.indexOf('/') < 0
        && name.indexOf('\\') < 0
        && name.indexOf('\0') < 0;
  }

  /** The directory this was opened from. */
  public Path directory() {
    return directory;
  }

  /** The opened files (one for an unsharded checkpoint), in file name order. */
  public List<SafetensorsFile> shards() {
    return shards;
  }

  @Override
  public Set<String> names() {
    return owner.keySet();
  }

  @Override
  public boolean contains(String name) {
    return owner.containsKey(name);
  }

  private SafetensorsFile shardOf(String name) {
    SafetensorsFile f = owner.get(name);
    if (f == null) {
      throw new IllegalArgumentException(
          directory + ": no tensor '" + name + "'; the checkpoint has " + owner.size()
              + " tensors" + SafetensorsFile.sample(names()));
    }
    return f;
  }

  @Override
  public TensorInfo info(String name) {
    return shardOf(name).info(name);
  }

  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  @Override
  public ByteBuffer bytes(String name) {
    return shardOf(name).bytes(name);
  }

  @Override
  public ByteBuffer bytes(String name, long offset, int length) {
    return shardOf(name).bytes(name, offset, length);
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (SafetensorsFile f : shards) {
      try {
        f.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
