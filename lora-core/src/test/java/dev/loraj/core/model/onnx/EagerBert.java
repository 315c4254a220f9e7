package dev.loraj.core.model.onnx;

import dev.loraj.core.model.bert.TokenBatch;
import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A reference BERT encoder forward pass in eager ND4J ops (no SameDiff), written from the
 * equations to check weight extraction; not the product model.
 *
 * <p>BERT (arXiv 1810.04805) with Hugging Face's {@code BertModel} conventions: embeddings =
 * word + position + token type, LayerNorm; per layer, post-LN: {@code x = LN(x + Attn(x))},
 * {@code x = LN(x + W2 gelu(W1 x))}; attention {@code softmax(QK^T / sqrt(d_h) + m) V} with
 * m = (1 - mask) * float32 min (as the HF export computes it); gelu exact: 0.5 x (1 + erf(x/sqrt 2)).
 */
final class EagerBert {

  private EagerBert() {}

  /** last_hidden_state [batch, seq, hidden]. */
  static INDArray lastHiddenState(BertCheckpoint ckpt, TokenBatch batch) {
    BertConfig c = ckpt.config();
    int b = batch.batchSize();
    int s = batch.seqLength();
    int d = c.hiddenSize();
    int h = c.numAttentionHeads();
    int hd = c.headSize();

    int[] ids = new int[b * s];
    int[] types = new int[b * s];
    int[] positions = new int[b * s];
    float[] maskBias = new float[b * s];
    for (int i = 0; i < b; i++) {
      for (int t = 0; t < s; t++) {
        ids[i * s + t] = (int) batch.inputIds()[i][t];
        types[i * s + t] = (int) batch.tokenTypeIds()[i][t];
        positions[i * s + t] = t;
        maskBias[i * s + t] = (1 - batch.attentionMask()[i][t]) * -Float.MAX_VALUE;
      }
    }
    INDArray x = rows(ckpt.weight("embeddings.word_embeddings.weight"), ids) // [b*s, d]
        .add(rows(ckpt.weight("embeddings.position_embeddings.weight"), positions))
        .add(rows(ckpt.weight("embeddings.token_type_embeddings.weight"), types));
    x = layerNorm(x, ckpt, "embeddings.LayerNorm", c.layerNormEps());
    INDArray mask = Nd4j.create(maskBias, new long[] {b, 1, 1, s}, 'c');

    for (int l = 0; l < c.numHiddenLayers(); l++) {
      String p = "encoder.layer." + l + ".";
      INDArray q = heads(linear(x, ckpt, p + "attention.self.query"), b, s, h, hd); // [b, h, s, hd]
      INDArray k = heads(linear(x, ckpt, p + "attention.self.key"), b, s, h, hd);
      INDArray v = heads(linear(x, ckpt, p + "attention.self.value"), b, s, h, hd);
      INDArray scores = Nd4j.matmul(q, k, false, true, false) // [b, h, s, hd] x [b, h, hd, s]
          .divi(Math.sqrt(hd))
          .add(mask); // broadcast [b, 1, 1, s]
      INDArray probs = softmaxLastDim(scores);
      INDArray ctx = Nd4j.matmul(probs, v) // [b, h, s, s] x [b, h, s, hd]
          .permute(0, 2, 1, 3).dup('c').reshape('c', (long) b * s, d);
      INDArray attn = linear(ctx, ckpt, p + "attention.output.dense");
      x = layerNorm(x.add(attn), ckpt, p + "attention.output.LayerNorm", c.layerNormEps());
      INDArray ff = gelu(linear(x, ckpt, p + "intermediate.dense")); // [b*s, ff]
      ff = linear(ff, ckpt, p + "output.dense");
      x = layerNorm(x.add(ff), ckpt, p + "output.LayerNorm", c.layerNormEps());
    }
    return x.reshape('c', b, s, d);
  }

  private static INDArray rows(INDArray table, int[] idx) {
    return Nd4j.pullRows(table, 1, idx, 'c');
  }

  /** y = x W^T + b with torch layout W [out, in]. */
  private static INDArray linear(INDArray x, BertCheckpoint ckpt, String module) {
    INDArray w = ckpt.weight(module + ".weight");
    INDArray bias = ckpt.weight(module + ".bias");
    return x.mmul(w.transpose()).addiRowVector(bias); // [n, in] x [in, out]
  }

  private static INDArray heads(INDArray x, int b, int s, int h, int hd) {
    return x.reshape('c', b, s, h, hd).permute(0, 2, 1, 3).dup('c');
  }

  private static INDArray layerNorm(INDArray x, BertCheckpoint ckpt, String module, double eps) {
    INDArray mean = x.mean(true, 1);
    INDArray centred = x.sub(mean);
    INDArray var = centred.mul(centred).mean(true, 1);
    INDArray norm = centred.div(Transforms.sqrt(var.add(eps), false));
    return norm.muliRowVector(ckpt.weight(module + ".weight"))
        .addiRowVector(ckpt.weight(module + ".bias"));
  }

  private static INDArray softmaxLastDim(INDArray x) {
    int last = x.rank() - 1;
    INDArray e = Transforms.exp(x.sub(x.max(true, last)), false);
    return e.div(e.sum(true, last));
  }

  private static INDArray gelu(INDArray x) {
    INDArray erf = Nd4j.createUninitialized(DataType.FLOAT, x.shape());
    Nd4j.exec(new Erf(x.div(Math.sqrt(2.0)), erf));
    return x.mul(erf.addi(1.0)).muli(0.5);
  }
}
