package dev.loraj.core.model;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;

/**
 * The result of {@link BaseModel#build}: the output variable ([batch, classes] logits, or
 * [batch * seq, vocab] for a causal LM) and the names of the placeholders the model reads.
 */
public record ModelOutput(SDVariable output, List<String> inputs) {}
