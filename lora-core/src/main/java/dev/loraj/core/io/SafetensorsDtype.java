package dev.loraj.core.io;

import java.util.Optional;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Element types of the safetensors format, with their header spelling and byte size.
 *
 * <p>The declaration order is the order of the {@code Dtype} enum of the reference library
 * (huggingface/safetensors, Rust crate 0.8): its writer places tensors by descending dtype
 * (then by name), which keeps every tensor aligned to its element size. {@link
 * SafetensorsWriter} uses the same order to produce byte-identical files. C64 and the 8-bit
 * float types are readable as raw bytes only: ND4J has no matching type.
 */
public enum SafetensorsDtype {
  BOOL(1, DataType.BOOL),
  U8(1, DataType.UBYTE),
  I8(1, DataType.BYTE),
  F8_E5M2(1, null),
  F8_E4M3(1, null),
  I16(2, DataType.SHORT),
  U16(2, DataType.UINT16),
  F16(2, DataType.HALF),
  BF16(2, DataType.BFLOAT16),
  I32(4, DataType.INT),
  U32(4, DataType.UINT32),
  F32(4, DataType.FLOAT),
  C64(8, null),
  F64(8, DataType.DOUBLE),
  I64(8, DataType.LONG),
  U64(8, DataType.UINT64);

  private final int byteSize;
  private final DataType nd4jType;

  SafetensorsDtype(int byteSize, DataType nd4jType) {
    this.byteSize = byteSize;
    this.nd4jType = nd4jType;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  /** The ND4J type holding the same values bit for bit, if ND4J has one. */
  public Optional<DataType> nd4jType() {
    return Optional.ofNullable(nd4jType);
  }

  /** Whether {@link SafetensorsFile#getFloat} converts this type to FLOAT. */
  public boolean isFloatingPoint() {
    return this == F16 || this == BF16 || this == F32 || this == F64;
  }

  /** The header spelling, e.g. {@code "BF16"}, or empty when the string names no dtype. */
  public static Optional<SafetensorsDtype> fromHeader(String name) {
    for (SafetensorsDtype d : values()) {
      if (d.name().equals(name)) {
        return Optional.of(d);
      }
    }
    return Optional.empty();
  }

  /** The safetensors dtype storing an ND4J type unchanged, or empty (UTF8, COMPRESSED). */
  public static Optional<SafetensorsDtype> of(DataType type) {
    for (SafetensorsDtype d : values()) {
      if (d.nd4jType == type) {
        return Optional.of(d);
      }
    }
    return Optional.empty();
  }
}
