package dev.loraj.core.model.onnx;

import dev.loraj.core.model.bert.TokenBatch;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The reference: ONNX Runtime (test scope) running the embedded all-MiniLM-L6-v2 .onnx as
 * exported, so Java forwards can be compared with the original graph.
 */
public final class OrtReference implements AutoCloseable {

  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession session;

  private OrtReference(byte[] onnx) throws OrtException {
    OrtSession.SessionOptions options = new OrtSession.SessionOptions();
    options.setIntraOpNumThreads(1); // small batches; the machine is shared
    session = env.createSession(onnx, options);
  }

  public static OrtReference miniLm() throws IOException, OrtException {
    try (InputStream in = MiniLm.open(MiniLm.ONNX_RESOURCE)) {
      return new OrtReference(in.readAllBytes());
    }
  }

  /** The graph's {@code last_hidden_state} [batch, seq, hidden] as float32. */
  public INDArray lastHiddenState(TokenBatch batch) throws OrtException {
    try (ai.onnxruntime.OnnxTensor ids = ai.onnxruntime.OnnxTensor.createTensor(env, batch.inputIds());
        ai.onnxruntime.OnnxTensor mask =
            ai.onnxruntime.OnnxTensor.createTensor(env, batch.attentionMask());
        ai.onnxruntime.OnnxTensor types =
            ai.onnxruntime.OnnxTensor.createTensor(env, batch.tokenTypeIds());
        OrtSession.Result result = session.run(
            Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
      OnnxValue out = result.get("last_hidden_state").orElseThrow();
      float[][][] value = (float[][][]) out.getValue();
      return Nd4j.create(value);
    }
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}
