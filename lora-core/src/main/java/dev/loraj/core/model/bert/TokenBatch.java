package dev.loraj.core.model.bert;

/**
 * A tokenized batch, every row padded to the same length (the longest row of the batch).
 *
 * @param inputIds token ids [batch, seq]
 * @param attentionMask 1 for real tokens, 0 for padding [batch, seq]
 * @param tokenTypeIds segment ids [batch, seq] (all 0 for single sentences)
 */
public record TokenBatch(long[][] inputIds, long[][] attentionMask, long[][] tokenTypeIds) {

  public TokenBatch {
    if (inputIds.length != attentionMask.length || inputIds.length != tokenTypeIds.length) {
      throw new IllegalArgumentException("TokenBatch: batch sizes differ (input_ids "
          + inputIds.length + ", attention_mask " + attentionMask.length + ", token_type_ids "
          + tokenTypeIds.length + ")");
    }
    int seq = inputIds.length == 0 ? 0 : inputIds[0].length;
    for (int i = 0; i < inputIds.length; i++) {
      if (inputIds[i].length != seq || attentionMask[i].length != seq
          || tokenTypeIds[i].length != seq) {
        throw new IllegalArgumentException("TokenBatch: row " + i + " is not of length " + seq);
      }
    }
  }

  public int batchSize() {
    return inputIds.length;
  }

  public int seqLength() {
    return inputIds.length == 0 ? 0 : inputIds[0].length;
  }
}
