package dev.loraj.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The session memory of a run recorded on scratch arrays: floating-point intermediates share one
 * buffer per type (the run holds one array's worth, not all of them), while integer arrays and
 * requested outputs get their own, and releasing a window never frees the scratch under it.
 */
class ScratchMemoryMgrTest {

  @Test
  void floatIntermediatesShareOneBufferAndOthersDoNot() {
    ScratchMemoryMgr m = new ScratchMemoryMgr();
    INDArray a = m.allocate(false, DataType.FLOAT, 4, 8);
    INDArray b = m.allocate(false, DataType.FLOAT, 16);
    INDArray ids = m.allocate(false, DataType.INT64, 4, 8);
    INDArray out = m.allocate(true, DataType.FLOAT, 4, 8);
    assertThat(a.isView()).as("a window is a plain array (libnd4j's bitcast refuses views)").isFalse();
    assertThat(b.data().address()).isEqualTo(a.data().address());
    assertThat(ids.data().address()).isNotEqualTo(a.data().address());
    assertThat(out.data().address()).isNotEqualTo(a.data().address());
    assertThat(b.shape()).containsExactly(16);

    m.release(b);
    assertThat(b.wasClosed()).isFalse();
    a.assign(3f); // the scratch is still there
    assertThat(b.getFloat(0)).isEqualTo(3f);
    m.release(ids);
    assertThat(ids.wasClosed()).isTrue();

    INDArray big = m.allocate(false, DataType.FLOAT, 64, 8); // outgrows the scratch
    assertThat(big.data().address()).isNotEqualTo(a.data().address());
    assertThat(a.getFloat(0)).as("windows onto an outgrown buffer stay valid until close").isEqualTo(3f);
    m.close();
    assertThat(out.wasClosed()).as("requested outputs belong to the caller").isFalse();
  }
}
